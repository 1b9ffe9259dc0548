// A stone's whole life through the tranship command, as an operator drives it:
// create, start, status, data, admin, stop, restart, snapshot, restore, destroy.

#include <signal.h>

#include <sstream>

#include <doctest/doctest.h>

#include "test/cli/cli_harness.h"
#include "test/dying_holder.h"
#include "test/regex.h"

namespace tranship::test {
namespace {

void Ok(const RunResult& r) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.code == 0);
}

std::string Get(CliHarness& h, const std::string& key) {
  RunResult r = h.Run({"get", "prod", key});
  return r.code == 0 ? r.out : "<missing>";
}

// The status row of the stone `name` (table output), or "".
std::string StatusRow(CliHarness& h, const std::string& name) {
  RunResult r = h.Run({"status"});
  REQUIRE(r.code == 0);
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.ends_with(" stone  " + name)) return line;
  }
  return "";
}

}  // namespace

TEST_CASE("StoneLifecycle") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  CHECK(ReadAll(h.Path("etc/conf.d/prod.conf")).find("STN_TRAN_LOG_SIZES = 100;") !=
        std::string::npos);
  for (const char* dir : {"", "/etc", "/etc/conf.d", "/data", "/data/prod", "/data/prod/extent",
                          "/data/prod/tranlog", "/log", "/run"}) {
    struct stat st;
    REQUIRE(stat((h.home() + dir).c_str(), &st) == 0);
    CHECK_MESSAGE((st.st_mode & 0777) == 0700, dir);
  }
  CHECK(h.Run({"stone", "list"}).out.starts_with("prod "));
  CHECK(StatusRow(h, "prod").starts_with("exists "));

  RunResult started = h.RunAlias("startstone", {"prod"});
  Ok(started);
  pid_t pid = h.StonePid("prod");
  REQUIRE(pid > 0);
  CHECK(daemon::IsStoneProcess(pid, "prod"));
  std::string row = StatusRow(h, "prod");
  CHECK(row.starts_with("running "));
  CHECK(row.find(" " + std::to_string(pid) + " ") != std::string::npos);
  CHECK(row.find(h.Path("run/prod.sock")) != std::string::npos);
  struct stat sock;
  REQUIRE(stat(h.Path("run/prod.sock").c_str(), &sock) == 0);
  CHECK((sock.st_mode & 0777) == 0600);
  RunResult json = h.Run({"status", "--json"});
  Ok(json);
  CHECK(json.out.find("\"status\":\"running\",\"version\":\"0.1.0\"") != std::string::npos);
  CHECK(json.out.find("\"pid\":" + std::to_string(pid) + ",") != std::string::npos);
  CHECK(json.out.find("\"type\":\"stone\",\"name\":\"prod\"}") != std::string::npos);

  // Data.
  Ok(h.Run({"put", "prod", "greeting", "hello world"}));
  CHECK(Get(h, "greeting") == "hello world\n");
  Ok(h.Run({"del", "prod", "greeting"}));
  CHECK(Get(h, "greeting") == "<missing>");
  RunResult load = h.Run({"load", "prod"},
                         "put a 1\nput b 2\ncommit\n# comment\n\ndel a\nput c 3\n");
  Ok(load);
  CHECK(load.out.find("2 transactions committed") != std::string::npos);
  CHECK(Get(h, "a") == "<missing>");
  CHECK(Get(h, "b") == "2\n");
  CHECK(Get(h, "c") == "3\n");  // the final transaction needs no "commit"

  // Admin.
  RunResult digest = h.Run({"admin", "prod", "digest"});
  Ok(digest);
  CHECK(std::regex_search(digest.out, std::regex("tid [0-9]+ .*[0-9a-f]{64}\n$")));
  Ok(h.Run({"admin", "prod", "checkpoint"}));
  Ok(h.Run({"admin", "prod", "start-new-log"}));
  RunResult report = h.Run({"admin", "prod", "file-size-report"});
  Ok(report);
  CHECK(report.out.find("tranlog2.dbf") != std::string::npos);

  // A clean stop, then status and the log tell the story.
  RunResult stopped = h.RunAlias("stopstone", {"prod"});
  Ok(stopped);
  CHECK(stopped.out == "Stopped the stone 'prod' (pid " + std::to_string(pid) + ").\n");
  CHECK_FALSE(ProcessAlive(pid));
  CHECK_FALSE(std::filesystem::exists(h.Path("run/prod.pid")));
  CHECK_FALSE(std::filesystem::exists(h.Path("run/prod.sock")));
  CHECK(StatusRow(h, "prod").starts_with("exists "));
  std::string log = ReadAll(h.Path("log/prod.log"));
  CHECK(log.find("recovery") != std::string::npos);
  CHECK(log.find("stop requested") != std::string::npos);
  CHECK(log.find("stopped cleanly") != std::string::npos);

  // The tranlog tools on the stopped stone's files.
  RunResult info = h.RunAlias("copydbf", {"-i", h.Path("data/prod/tranlog/tranlog1.dbf")});
  Ok(info);
  CHECK(info.out.find("file id:       1\n") != std::string::npos);
  CHECK(info.out.find("closed with a log switch to file 2") != std::string::npos);
  RunResult verify = h.Run({"tranlog", "verify", h.Path("data/prod/tranlog")});
  Ok(verify);
  CHECK(verify.out.find("tranlog1.dbf") != std::string::npos);
  CHECK(verify.out.find("ok: 2 files") != std::string::npos);

  // restart works from stopped and from running; the data survives both.
  Ok(h.Run({"stone", "restart", "prod"}));
  pid_t pid2 = h.StonePid("prod");
  Ok(h.Run({"stone", "restart", "prod"}));
  pid_t pid3 = h.StonePid("prod");
  CHECK(pid2 != pid3);
  CHECK_FALSE(ProcessAlive(pid2));
  CHECK(Get(h, "b") == "2\n");

  // snapshot restarts a running stone; restore-snapshot brings back its contents.
  RunResult snap = h.Run({"stone", "snapshot", "prod"});
  Ok(snap);
  CHECK(std::filesystem::exists(h.Path("data/prod/snapshot/SNAPSHOT")));
  CHECK(std::filesystem::exists(h.Path("data/prod/snapshot/extent/extent0.dbf")));
  CHECK(std::filesystem::exists(h.Path("data/prod/snapshot/tranlog.0/tranlog1.dbf")));
  CHECK(daemon::IsStoneProcess(h.StonePid("prod"), "prod"));
  Ok(h.Run({"put", "prod", "after", "snapshot"}));
  Ok(h.Run({"del", "prod", "b"}));
  Ok(h.Run({"stone", "restore-snapshot", "prod"}));
  CHECK(daemon::IsStoneProcess(h.StonePid("prod"), "prod"));
  CHECK(Get(h, "after") == "<missing>");
  CHECK(Get(h, "b") == "2\n");
  CHECK(Get(h, "c") == "3\n");

  // A stopped stone can be snapshotted and stays stopped.
  Ok(h.Run({"stone", "stop", "prod"}));
  Ok(h.Run({"stone", "snapshot", "prod"}));
  CHECK(h.StonePid("prod") == 0);

  Ok(h.Run({"stone", "destroy", "prod"}));
  CHECK_FALSE(std::filesystem::exists(h.Path("data/prod")));
  CHECK_FALSE(std::filesystem::exists(h.Path("etc/conf.d/prod.conf")));
  CHECK(StatusRow(h, "prod").empty());
  CHECK(h.Run({"status", "--json"}).out == "[]\n");
}

TEST_CASE("KilledStoneShowsStalePidAndRecoversOnStart") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  Ok(h.RunAlias("startstone", {"prod"}));
  Ok(h.Run({"put", "prod", "k", "v"}));
  pid_t pid = h.StonePid("prod");
  REQUIRE(kill(pid, SIGKILL) == 0);
  REQUIRE(WaitFor([&] { return ProcessGone(pid); }));
  CHECK(StatusRow(h, "prod").starts_with("stale pid "));
  RunResult put = h.Run({"put", "prod", "k", "w"});
  CHECK(put.code == 1);
  CHECK(put.err == "The stone 'prod' is not running. To fix this run 'startstone prod'.\n");
  Ok(h.RunAlias("startstone", {"prod"}));
  CHECK(StatusRow(h, "prod").starts_with("running "));
  CHECK(h.Run({"get", "prod", "k"}).out == "v\n");
  // stopstone of a stone whose process is gone removes the stale pid file.
  pid = h.StonePid("prod");
  REQUIRE(kill(pid, SIGKILL) == 0);
  REQUIRE(WaitFor([&] { return ProcessGone(pid); }));
  RunResult stop = h.RunAlias("stopstone", {"prod"});
  CHECK(stop.code == 1);
  CHECK(stop.err == "The stone 'prod' is not running.\n");
  CHECK(StatusRow(h, "prod").starts_with("exists "));
}

TEST_CASE("RestoreModeStoneRefusesWrites") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  Ok(h.RunAlias("startstone", {"prod"}));
  Ok(h.Run({"put", "prod", "k", "v"}));
  Ok(h.Run({"stone", "restart", "prod", "-R"}));
  CHECK(h.Run({"get", "prod", "k"}).out == "v\n");  // hot standby reads
  RunResult put = h.Run({"put", "prod", "k", "w"});
  CHECK(put.code == 1);
  CHECK(OneLine(put.err));
  // A snapshot restarts it in restore mode again.
  Ok(h.Run({"stone", "snapshot", "prod"}));
  CHECK(h.Run({"put", "prod", "k", "w"}).code == 1);
  Ok(h.Run({"stone", "stop", "prod"}));
}

TEST_CASE("TranlogVerifyReportsDamageWithOffset") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  Ok(h.RunAlias("startstone", {"prod"}));
  for (int i = 0; i < 5; i++) Ok(h.Run({"put", "prod", "k" + std::to_string(i), "value"}));
  Ok(h.Run({"admin", "prod", "start-new-log"}));
  Ok(h.Run({"put", "prod", "later", "value"}));
  Ok(h.Run({"stone", "stop", "prod"}));
  std::string file = h.Path("data/prod/tranlog/tranlog1.dbf");
  IncrementByte(file, FileSize(file) / 2);
  RunResult verify = h.Run({"tranlog", "verify", h.Path("data/prod/tranlog")});
  CHECK(verify.code == 1);
  CHECK(OneLine(verify.err));
  CHECK(verify.err.find("is damaged") != std::string::npos);
  CHECK(verify.out.find("error: ") != std::string::npos);
  CHECK(verify.out.find("offset") != std::string::npos);
  RunResult info = h.Run({"tranlog", "info", file});
  CHECK(info.out.find("corrupt at offset") != std::string::npos);
  RunResult one = h.Run({"tranlog", "verify", file});
  CHECK(one.code == 1);
}

// kill -9 leaves a multi-threaded stone's main thread a zombie while its other threads
// still exit and still hold the repository's lock (test/dying_holder.h). A watchdog's
// startstone at that moment waits for it, says so, and starts.
TEST_CASE("AStartWaitsForAKilledStoneThatStillHoldsItsRepository") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  DyingHolder holder(h.Path("data/prod/extent/lock"));
  // The pid file the killed stone left behind.
  daemon::ProcessDescription d;
  d.pid = holder.pid();
  d.type = "stone";
  d.name = "prod";
  REQUIRE(daemon::WritePidFile(h.Path("run/prod.pid"), d).ok());
  CHECK(StatusRow(h, "prod").starts_with("stale pid "));
  const std::string out = h.TempPath("startstone.out");
  pid_t start = h.Spawn({"stone", "start", "prod"}, out);
  REQUIRE(WaitFor([&] { return ReadAll(out).find("is still exiting") != std::string::npos; }));
  CHECK(ReadAll(out).find("The stone 'prod' was killed and its process (pid " +
                          std::to_string(holder.pid()) + ") is still exiting; waiting") !=
        std::string::npos);
  holder.Release();
  INFO(ReadAll(out));
  CHECK(CliHarness::Wait(start) == 0);
  CHECK(StatusRow(h, "prod").starts_with("running "));
}

// The same moment without a pid file (a process the home did not record, or killed
// before it wrote one): the stone daemon itself waits for the lock, and its log says so.
TEST_CASE("AStoneWaitsForADyingHolderOfItsLockAndLogsIt") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  DyingHolder holder(h.Path("data/prod/extent/lock"));
  const std::string out = h.TempPath("startstone.out");
  pid_t start = h.Spawn({"stone", "start", "prod"}, out);
  REQUIRE(WaitFor([&] {
    return ReadAll(h.Path("log/prod.log")).find("still exiting") != std::string::npos;
  }));
  CHECK(ReadAll(h.Path("log/prod.log")).find("held by pid " + std::to_string(holder.pid())) !=
        std::string::npos);
  holder.Release();
  INFO(ReadAll(out));
  CHECK(CliHarness::Wait(start) == 0);
  CHECK(StatusRow(h, "prod").starts_with("running "));
}

// A stone with two STN_TRAN_LOG_DIRECTORIES keeps odd file ids in one and even ones in
// the other. verify checks the sequence across both (given both, or --stone), and given
// one of them says which files belong in the other instead of calling them missing; a
// file really missing from the sequence is still an error.
TEST_CASE("VerifyChecksTheSequenceAcrossAStonesTranlogDirectories") {
  CliHarness h;
  Ok(h.Run({"stone", "create", "prod"}));
  const std::string a = h.Path("data/prod/tranlog"), b = h.Path("data/prod/tranlog2");
  std::string conf = ReadAll(h.Path("etc/conf.d/prod.conf"));
  const std::string key = "STN_TRAN_LOG_DIRECTORIES = " + a + ";";
  REQUIRE(conf.find(key) != std::string::npos);
  conf.replace(conf.find(key), key.size(), "STN_TRAN_LOG_DIRECTORIES = " + a + ", " + b + ";");
  WriteAll(h.Path("etc/conf.d/prod.conf"), conf);
  REQUIRE(Env::Default()->CreateDirs(b).ok());
  Ok(h.RunAlias("startstone", {"prod"}));
  for (int i = 0; i < 4; i++) {
    Ok(h.Run({"put", "prod", "k" + std::to_string(i), "v"}));
    Ok(h.Run({"admin", "prod", "start-new-log"}));
  }
  Ok(h.RunAlias("stopstone", {"prod"}));
  REQUIRE(Env::Default()->FileExists(b + "/tranlog4.dbf"));

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"tranlog", "verify", "--stone", "prod"},
        std::vector<std::string>{"tranlog", "verify", a, b}}) {
    RunResult all = h.Run(args);
    Ok(all);
    CHECK(all.out.find("ok: 5 files") != std::string::npos);
  }

  RunResult one = h.Run({"tranlog", "verify", a});
  Ok(one);
  CHECK(one.out.find("This is one of the 2 tranlog directories of the stone 'prod'") !=
        std::string::npos);
  CHECK(one.out.find("tranlogs 2 and 4 belong in " + b) != std::string::npos);
  CHECK(one.out.find("verify --stone prod") != std::string::npos);
  CHECK(one.out.find("missing") == std::string::npos);

  // A file gone from the other directory is missing, however the files are given.
  REQUIRE(std::rename((b + "/tranlog4.dbf").c_str(), h.TempPath("tranlog4.dbf").c_str()) == 0);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"tranlog", "verify", "--stone", "prod"},
        std::vector<std::string>{"tranlog", "verify", a, b}}) {
    RunResult gap = h.Run(args);
    CHECK(gap.code == 1);
    CHECK(OneLine(gap.err));
    CHECK(gap.out.find("error: tranlog5.dbf: tranlog 4 is missing before it") != std::string::npos);
  }
  // A file missing inside the directory given alone is missing; its neighbours in the
  // other directory are not.
  REQUIRE(std::rename((a + "/tranlog3.dbf").c_str(), h.TempPath("tranlog3.dbf").c_str()) == 0);
  RunResult gap = h.Run({"tranlog", "verify", a});
  CHECK(gap.code == 1);
  CHECK(gap.out.find("error: tranlog5.dbf: tranlog 3 is missing before it") != std::string::npos);
  CHECK(gap.out.find("tranlogs 2 and 4 belong in " + b) != std::string::npos);

  RunResult both = h.Run({"tranlog", "verify", "--stone", "prod", a});
  CHECK(both.code != 0);
  CHECK(OneLine(both.err));
}

}  // namespace tranship::test
