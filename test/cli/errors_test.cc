// Every failure of the tranship command is one line on stderr saying what is wrong and
// how to fix it, with a non-zero exit code (2 for usage errors).

#include <doctest/doctest.h>

#include "test/cli/cli_harness.h"

namespace tranship::test {
namespace {

void Fails(const RunResult& r, int code, const std::string& err) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.code == code);
  CHECK(r.err == err + "\n");
}

// For messages with variable parts: the exit code, one line, and its beginning.
void FailsWith(const RunResult& r, int code, const std::string& prefix) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.code == code);
  CHECK(OneLine(r.err));
  CHECK(r.err.starts_with(prefix));
}

}  // namespace

TEST_CASE("UnknownStone") {
  CliHarness h;
  const std::string msg =
      "The stone 'quux' does not exist. To fix this run 'tranship stone create quux'.";
  Fails(h.Run({"get", "quux", "k"}), 1, msg);
  Fails(h.Run({"put", "quux", "k", "v"}), 1, msg);
  Fails(h.Run({"load", "quux"}, "put a b\n"), 1, msg);
  Fails(h.Run({"admin", "quux", "digest"}), 1, msg);
  Fails(h.RunAlias("startstone", {"quux"}), 1, msg);
  Fails(h.RunAlias("stopstone", {"quux"}), 1, msg);
  Fails(h.Run({"stone", "destroy", "quux"}), 1, msg);
  Fails(h.Run({"stone", "snapshot", "quux"}), 1, msg);
  FailsWith(h.Run({"stone", "create", "../x"}), 1, "'../x' is not a valid stone name.");
}

TEST_CASE("StoneStateErrors") {
  CliHarness h;
  REQUIRE(h.Run({"stone", "create", "quux"}).code == 0);
  const std::string not_running =
      "The stone 'quux' is not running. To fix this run 'startstone quux'.";
  Fails(h.Run({"get", "quux", "k"}), 1, not_running);
  Fails(h.Run({"put", "quux", "k", "v"}), 1, not_running);
  Fails(h.Run({"del", "quux", "k"}), 1, not_running);
  Fails(h.Run({"admin", "quux", "checkpoint"}), 1, not_running);
  Fails(h.Run({"load", "quux"}, "put a b\n"), 1, not_running);
  Fails(h.RunAlias("stopstone", {"quux"}), 1, "The stone 'quux' is not running.");
  Fails(h.Run({"stone", "stop", "quux"}), 1, "The stone 'quux' is not running.");
  Fails(h.Run({"stone", "restore-snapshot", "quux"}), 1,
        "The stone 'quux' has no snapshot. To fix this run 'tranship stone snapshot quux' first.");
  Fails(h.Run({"stone", "create", "quux"}), 1,
        "The stone 'quux' already exists. To fix this choose another name or run "
        "'tranship stone destroy quux' first.");

  REQUIRE(h.RunAlias("startstone", {"quux"}).code == 0);
  pid_t pid = h.StonePid("quux");
  std::string p = std::to_string(pid);
  Fails(h.RunAlias("startstone", {"quux"}), 1,
        "The stone 'quux' is already running (pid " + p +
            "). To restart it run 'tranship stone restart quux'.");
  Fails(h.Run({"stone", "destroy", "quux"}), 1,
        "The stone 'quux' is running (pid " + p + "). To fix this run 'stopstone quux' first.");
  Fails(h.Run({"get", "quux", "nokey"}), 1,
        "The key 'nokey' does not exist in the stone 'quux'. To set it run 'tranship put "
        "quux nokey VALUE'.");
  FailsWith(h.Run({"admin", "quux", "frobnicate"}), 1, "unknown admin verb 'frobnicate'");
  CHECK(h.StonePid("quux") == pid);  // none of this disturbed the stone
  CHECK(h.Run({"stone", "stop", "quux"}).code == 0);
}

TEST_CASE("LoadStopsAtABadLineAndKeepsWhatWasCommitted") {
  CliHarness h;
  REQUIRE(h.Run({"stone", "create", "prod"}).code == 0);
  REQUIRE(h.RunAlias("startstone", {"prod"}).code == 0);
  RunResult r = h.Run({"load", "prod"},
                      "put a 1\ncommit\nput b 2\ncommit\nput c 3\npt d 4\nput e 5\ncommit\n");
  Fails(r, 1,
        "stdin line 6: unknown command 'pt'; expected 'put KEY VALUE', 'del KEY' or 'commit'. "
        "2 transactions before it were committed; the one in progress was not. To fix this "
        "correct the line and load the rest from line 5.");
  CHECK(h.Run({"get", "prod", "a"}).out == "1\n");
  CHECK(h.Run({"get", "prod", "b"}).out == "2\n");
  CHECK(h.Run({"get", "prod", "c"}).code == 1);  // the transaction with the bad line
  CHECK(h.Run({"get", "prod", "e"}).code == 1);  // nothing after it
}

TEST_CASE("UsageErrors") {
  CliHarness h;
  Fails(h.Run({"frob"}), 2, "Unknown command 'frob'. To see the commands run 'tranship --help'.");
  Fails(h.Run({"stone", "frob", "x"}), 2,
        "Unknown command 'stone frob'. To see the stone commands run 'tranship help stone'.");
  Fails(h.Run({"tranlog"}), 2,
        "'tranship tranlog' needs a command. To see them run 'tranship help tranlog'.");
  Fails(h.Run({"stone", "start"}), 2, "Missing arguments. Usage: tranship stone start NAME [-R]");
  Fails(h.RunAlias("startstone", {}), 2, "Missing arguments. Usage: tranship stone start NAME [-R]");
  Fails(h.Run({"stone", "start", "prod", "-x"}), 2,
        "Unknown option '-x'. Usage: tranship stone start NAME [-R]");
  Fails(h.Run({"get", "prod", "k", "extra"}), 2,
        "Unexpected argument 'extra'. Usage: tranship get NAME KEY");
  Fails(h.Run({"put", "prod", "k"}), 2, "Missing arguments. Usage: tranship put NAME KEY VALUE");
  Fails(h.RunAlias("copydbf", {"x"}), 2,
        "copydbf supports only '-i FILE' (print a tranlog summary). Usage: copydbf -i FILE");
  Fails(h.Run({"help", "frob"}), 2,
        "Unknown command 'frob'. To see the commands run 'tranship --help'.");
  FailsWith(h.Run({"workload", "prod", "--writers"}), 2, "Option '--writers' needs a value.");
  FailsWith(h.Run({"stone", "serve", "prod"}), 1, "'tranship stone serve' runs a stone in");
  FailsWith(h.Run({"stone", "serve", "prod", "--foreground"}), 1,
            "The stone 'prod' does not exist.");
  FailsWith(h.Run({"tranlog", "info", h.TempPath("nothing.dbf")}), 1, h.TempPath("nothing.dbf"));
  FailsWith(h.Run({"tranlog", "verify", h.TempPath("nothing")}), 1, h.TempPath("nothing"));
}

TEST_CASE("HelpAndVersion") {
  CliHarness h;
  RunResult help = h.Run({"--help"});
  CHECK(help.code == 0);
  for (const char* cmd : {"tranship stone create NAME", "tranship stone start NAME [-R]",
                          "tranship status [--json]", "tranship load NAME < FILE",
                          "tranship tranlog verify FILE|DIR", "startstone"}) {
    CHECK_MESSAGE(help.out.find(cmd) != std::string::npos, cmd);
  }
  CHECK(help.out.find("stone serve") == std::string::npos);  // internal
  RunResult stone = h.Run({"help", "stone"});
  CHECK(stone.code == 0);
  CHECK(stone.out.find("tranship stone destroy NAME") != std::string::npos);
  CHECK(stone.out.find("tranship put") == std::string::npos);
  RunResult one = h.Run({"stone", "start", "--help"});
  CHECK(one.code == 0);
  CHECK(one.out.starts_with("Usage: tranship stone start NAME [-R]\n"));
  RunResult version = h.Run({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out == "tranship 0.1.0\n");
  CHECK(h.Run({}).code == 2);
}

TEST_CASE("BadConfigLineIsNamedWithFileAndLine") {
  CliHarness h;
  REQUIRE(h.Run({"stone", "create", "prod"}).code == 0);
  std::string conf = h.Path("etc/conf.d/prod.conf");
  WriteAll(conf, ReadAll(conf) + "STN_TRAN_LOG_SIZES 5;\n");
  size_t line = CountLines(ReadAll(conf));
  Fails(h.RunAlias("startstone", {"prod"}), 1,
        conf + ":" + std::to_string(line) +
            ": missing '=' (expected KEY = value;) To fix this edit the file.");
}

TEST_CASE("SecondServerOnARunningStoneFailsOnTheLock") {
  CliHarness h;
  REQUIRE(h.Run({"stone", "create", "prod"}).code == 0);
  REQUIRE(h.RunAlias("startstone", {"prod"}).code == 0);
  pid_t pid = h.StonePid("prod");
  REQUIRE(h.Run({"put", "prod", "k", "v"}).code == 0);
  RunResult second = h.Run({"stone", "serve", "prod", "--foreground"}, "", 30);
  FailsWith(second, 1, "Cannot start the stone 'prod': ");
  CHECK(second.err.find("locked by another process (pid " + std::to_string(pid) + ")") !=
        std::string::npos);
  CHECK(second.err.find(h.Path("log/prod.log")) != std::string::npos);
  // The running stone kept its pid file, its socket and its data.
  CHECK(h.StonePid("prod") == pid);
  CHECK(h.Run({"get", "prod", "k"}).out == "v\n");
  REQUIRE(h.Run({"stone", "stop", "prod"}).code == 0);
}

TEST_CASE("ForegroundServeStopsCleanlyOnSigterm") {
  CliHarness h;
  REQUIRE(h.Run({"stone", "create", "prod"}).code == 0);
  std::string out = h.TempPath("serve.out");
  pid_t pid = h.Spawn({"stone", "serve", "prod", "--foreground"}, out);
  REQUIRE(WaitFor([&] { return ReadAll(out).find("accepting logins") != std::string::npos; },
                  std::chrono::seconds(30)));
  CHECK(h.StonePid("prod") == pid);
  REQUIRE(h.Run({"put", "prod", "k", "v"}).code == 0);
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(CliHarness::Wait(pid) == 0);
  CHECK_FALSE(std::filesystem::exists(h.Path("run/prod.pid")));
  CHECK(ReadAll(h.Path("log/prod.log")).find("stopped cleanly") != std::string::npos);
}

}  // namespace tranship::test

namespace tranship::test {

TEST_CASE("StartstoneReportsARecoveryFailureAndLeavesNoProcess") {
  CliHarness h;
  REQUIRE(h.Run({"stone", "create", "prod"}).code == 0);
  std::string extent = h.Path("data/prod/extent/extent0.dbf");
  IncrementByte(extent, FileSize(extent) / 2);
  RunResult r = h.RunAlias("startstone", {"prod"});
  CHECK(r.code == 1);
  CHECK(OneLine(r.err));
  CHECK(r.err.starts_with("Cannot start the stone 'prod': "));
  CHECK(r.err.ends_with("See " + h.Path("log/prod.log") + ".\n"));
  CHECK(h.StonePid("prod") == 0);
  CHECK_FALSE(std::filesystem::exists(h.Path("run/prod.sock")));
  std::string log = ReadAll(h.Path("log/prod.log"));
  CHECK(log.find("ERROR stone 'prod' cannot start") != std::string::npos);
  CHECK(log.find("Cannot start the stone") == std::string::npos);  // logged once, not twice
}

}  // namespace tranship::test
