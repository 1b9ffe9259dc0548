// The logsender daemon through the real `tranship` binary: start and stop, its pid and
// status files and `tranship status` rows, one-line errors, and a stone that stops and
// starts again under a running logsender.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "base/env.h"
#include "base/json_parse.h"
#include "test/cli/cli_harness.h"
#include "test/dying_holder.h"
#include "test/free_port.h"

namespace tranship::test {
namespace {

// A harness whose destructor also kills the shipping daemons it started.
struct SenderHarness : CliHarness {
  ~SenderHarness() {
    for (const daemon::ProcessDescription& d : daemon::ReadPidFiles(Path("run"))) {
      if (d.type == "stone" || !ProcessAlive(d.pid)) continue;
      kill(d.pid, SIGKILL);
      WaitFor([&] { return ProcessGone(d.pid); });
    }
  }
  void CreateAndStart(const std::string& stone) {
    REQUIRE(Run({"stone", "create", stone}).code == 0);
    REQUIRE(RunAlias("startstone", {stone}).code == 0);
  }
  std::string TranlogDir(const std::string& stone) { return Path("data/" + stone + "/tranlog"); }
  RunResult StartSender(int port, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-P", std::to_string(port), "-A", "127.0.0.1",
                                     "-T", TranlogDir("prod"),   "-s", "prod"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunAlias("startlogsender", args);
  }
  std::string SenderLog(int port) {
    return ReadAll(Path("log/logsender-" + std::to_string(port) + ".log"));
  }
  bool LogHas(int port, const std::string& text, size_t times = 1) {
    return WaitFor([&] {
      std::string log = SenderLog(port);
      size_t n = 0;
      for (size_t p = log.find(text); p != std::string::npos; p = log.find(text, p + 1)) n++;
      return n >= times;
    });
  }
  Result<tranship::JsonValue> SenderStatus(int port) {
    return tranship::ParseJson(ReadAll(Path("run/logsender-" + std::to_string(port) + ".status")));
  }
};

void Ok(const RunResult& r) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  REQUIRE(r.code == 0);
}

// A failure a user can hit: exit code 1 or 2 and exactly one line on stderr.
void FailsWithOneLine(const RunResult& r, const std::string& expected) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.code != 0);
  CHECK(OneLine(r.err));
  CHECK(r.err.find(expected) != std::string::npos);
}

}  // namespace

TEST_CASE("LogsenderLifecycle") {
  SenderHarness h;
  h.CreateAndStart("prod");
  int port = FreePort();
  RunResult started = h.StartSender(port);
  Ok(started);
  CHECK(OneLine(started.out));
  CHECK(started.out.find("logsender for the stone 'prod' started (pid ") == 0);

  Result<daemon::ProcessDescription> d =
      daemon::ReadPidFile(h.Path("run/logsender-" + std::to_string(port) + ".pid"));
  REQUIRE(d.ok());
  CHECK(d->type == "logsender");
  CHECK(d->name == "prod");
  CHECK(d->port == std::to_string(port));
  CHECK(ProcessAlive(d->pid));
  CHECK(h.LogHas(port, "plaintext link: records cross the network unencrypted"));
  CHECK(h.LogHas(port, "following the stone 'prod'"));

  // The status file says it follows the stone, and `tranship status` shows the row and
  // its details.
  REQUIRE(WaitFor([&] {
    Result<tranship::JsonValue> s = h.SenderStatus(port);
    return s.ok() && s->Bool("stone_connected");
  }));
  RunResult status = h.Run({"status"});
  Ok(status);
  std::string row_part = std::to_string(d->pid) + "  " + std::to_string(port);
  CHECK(status.out.find(row_part) != std::string::npos);
  CHECK(status.out.find(" logsender  prod\n") != std::string::npos);
  CHECK(status.out.find("logsender on port " + std::to_string(port) +
                        " for the stone 'prod' (plaintext; following the stone)") !=
        std::string::npos);
  CHECK(status.out.find("no logreceivers connected") != std::string::npos);
  RunResult json = h.Run({"status", "--json"});
  Ok(json);
  Result<tranship::JsonValue> rows = tranship::ParseJson(json.out);
  REQUIRE(rows.ok());
  bool found = false;
  for (const tranship::JsonValue& r : rows->items) {
    if (r.Str("type") != "logsender") continue;
    found = true;
    const tranship::JsonValue* detail = r.Get("detail");
    REQUIRE(detail != nullptr);
    CHECK(detail->Str("stone") == "prod");
    CHECK(detail->Get("receivers")->items.empty());
    CHECK(detail->Get("primary_end")->Uint("file") == 1);
  }
  CHECK(found);

  // The details are as old as the status file, which the logsender rewrites every
  // second. A logsender that stopped rewriting it (hung: here stopped with SIGSTOP) still
  // has a live process, so its row says "running"; its details say how old they are.
  const std::string status_file = h.Path("run/logsender-" + std::to_string(port) + ".status");
  REQUIRE(kill(d->pid, SIGSTOP) == 0);
  const auto ninety_s_ago = std::filesystem::file_time_type::clock::now() - std::chrono::seconds(90);
  std::filesystem::last_write_time(status_file, ninety_s_ago);
  RunResult frozen = h.Run({"status"});
  RunResult frozen_json = h.Run({"status", "--json"});
  REQUIRE(kill(d->pid, SIGCONT) == 0);
  Ok(frozen);
  CHECK(frozen.out.find("\nrunning ") != std::string::npos);
  CHECK(frozen.out.find("(as of 90 s ago: not rewritten since, though the logsender rewrites "
                        "it every second; it may be hung (pid " + std::to_string(d->pid) + "))") !=
        std::string::npos);
  Ok(frozen_json);
  Result<tranship::JsonValue> frozen_rows = tranship::ParseJson(frozen_json.out);
  REQUIRE(frozen_rows.ok());
  for (const tranship::JsonValue& r : frozen_rows->items) {
    if (r.Str("type") == "logsender") CHECK(r.Num("detail_age_seconds").value_or(0) >= 90);
  }
  // Running again, it rewrites the file within a second or so.
  CHECK(WaitFor([&] {
    RunResult again = h.Run({"status"});
    return again.out.find("following the stone): primary durable end tranlog 1 offset") !=
               std::string::npos &&
           again.out.find(" s ago)\n") != std::string::npos &&
           again.out.find("may be hung") == std::string::npos;
  }));

  RunResult stopped = h.RunAlias("stoplogsender", {"-P", std::to_string(port)});
  Ok(stopped);
  CHECK(stopped.out.find("stopped (pid " + std::to_string(d->pid) + ")") != std::string::npos);
  CHECK(!ProcessAlive(d->pid));
  CHECK(!std::filesystem::exists(h.Path("run/logsender-" + std::to_string(port) + ".pid")));
  CHECK(!std::filesystem::exists(h.Path("run/logsender-" + std::to_string(port) + ".status")));
  CHECK(h.LogHas(port, "stopping: stop requested (SIGTERM)"));
  CHECK(h.LogHas(port, "stopped"));
  FailsWithOneLine(h.RunAlias("stoplogsender", {"-P", std::to_string(port)}),
                   "No logsender is running on port " + std::to_string(port) + ".");
}

TEST_CASE("LogsenderErrorsAreOneLine") {
  SenderHarness h;
  h.CreateAndStart("prod");
  int port = FreePort();
  Ok(h.StartSender(port));
  Result<daemon::ProcessDescription> d =
      daemon::ReadPidFile(h.Path("run/logsender-" + std::to_string(port) + ".pid"));
  REQUIRE(d.ok());

  SUBCASE("a second logsender on the same port") {
    FailsWithOneLine(h.StartSender(port), "A logsender already runs on port " +
                                              std::to_string(port) + " (pid " +
                                              std::to_string(d->pid) + ").");
  }
  SUBCASE("a port another program holds") {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int other = FreePort();
    a.sin_port = htons(static_cast<uint16_t>(other));
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    FailsWithOneLine(h.StartSender(other), "address already in use");
    ::close(fd);
  }
  SUBCASE("flags") {
    FailsWithOneLine(h.RunAlias("startlogsender", {"-A", "127.0.0.1", "-s", "prod"}),
                     "-P is required");
    FailsWithOneLine(h.StartSender(0), "-P 0 is not a TCP port");
    FailsWithOneLine(h.StartSender(port + 1, {"-b", "fast"}), "-b needs a whole number");
    FailsWithOneLine(h.StartSender(port + 1, {"-v", "-q"}), "-v and -q exclude each other");
    FailsWithOneLine(h.StartSender(port + 1, {"-J", "ca.pem"}), "need -S (TLS)");
    FailsWithOneLine(h.StartSender(port + 1, {"--frobnicate"}), "Unknown option '--frobnicate'");
  }
  SUBCASE("no such stone or directory") {
    FailsWithOneLine(
        h.RunAlias("startlogsender", {"-P", std::to_string(port + 1), "-A", "127.0.0.1", "-T",
                                      h.TranlogDir("prod"), "-s", "nosuch"}),
        "The stone 'nosuch' does not exist");
    FailsWithOneLine(
        h.RunAlias("startlogsender", {"-P", std::to_string(port + 1), "-A", "127.0.0.1", "-T",
                                      h.Path("nowhere"), "-s", "prod"}),
        "The tranlog directory " + h.Path("nowhere") + " does not exist");
  }
  SUBCASE("certificate problems") {
    FailsWithOneLine(h.StartSender(port + 1, {"-S", "-J", h.Path("nope-ca.pem"), "-C",
                                              h.Path("nope.pem"), "-K", h.Path("nope.key")}),
                     "nope");
  }
  SUBCASE("a listen address of another host") {
    FailsWithOneLine(
        h.RunAlias("startlogsender", {"-P", std::to_string(port + 1), "-A", "not-a-host.invalid",
                                      "-T", h.TranlogDir("prod"), "-s", "prod"}),
        "not-a-host.invalid");
  }
  // Nothing of a failed start is left behind.
  CHECK(daemon::ReadPidFiles(h.Path("run")).size() == 2);
}

TEST_CASE("LogsenderKeepsRunningWhileTheStoneIsStopped") {
  SenderHarness h;
  h.CreateAndStart("prod");
  int port = FreePort();
  Ok(h.StartSender(port, {"-v"}));
  Result<daemon::ProcessDescription> d =
      daemon::ReadPidFile(h.Path("run/logsender-" + std::to_string(port) + ".pid"));
  REQUIRE(d.ok());
  REQUIRE(h.LogHas(port, "following the stone 'prod'"));
  Ok(h.Run({"put", "prod", "a", "1"}));

  Ok(h.RunAlias("stopstone", {"prod"}));
  CHECK(h.LogHas(port, "lost the stone 'prod'"));
  REQUIRE(WaitFor([&] {
    Result<tranship::JsonValue> s = h.SenderStatus(port);
    return s.ok() && !s->Bool("stone_connected");
  }));
  CHECK(ProcessAlive(d->pid));
  RunResult status = h.Run({"status"});
  CHECK(status.out.find("the stone is not reachable: shipping what is durable on disk") !=
        std::string::npos);
  // The end on disk (the clean stop's checkpoint included) is what the sender knows.
  Result<tranship::JsonValue> s = h.SenderStatus(port);
  REQUIRE(s.ok());
  uint64_t tid_while_down = s->Get("primary_end")->Uint("tid");
  CHECK(tid_while_down >= 2);

  Ok(h.RunAlias("startstone", {"prod"}));
  CHECK(h.LogHas(port, "following the stone 'prod'", 2));
  Ok(h.Run({"put", "prod", "b", "2"}));
  REQUIRE(WaitFor([&] {
    Result<tranship::JsonValue> st = h.SenderStatus(port);
    return st.ok() && st->Bool("stone_connected") &&
           st->Get("primary_end")->Uint("tid") > tid_while_down;
  }));
  // The loss was logged once, not once per retry.
  std::string log = h.SenderLog(port);
  size_t losses = 0;
  for (size_t p = log.find("lost the stone"); p != std::string::npos;
       p = log.find("lost the stone", p + 1)) {
    losses++;
  }
  CHECK(losses == 1);
  Ok(h.RunAlias("stoplogsender", {"-P", std::to_string(port)}));
}

TEST_CASE("LogsenderInTheForegroundStopsOnSigterm") {
  SenderHarness h;
  h.CreateAndStart("prod");
  int port = FreePort();
  std::string out = h.TempPath("foreground.out");
  pid_t pid = h.Spawn(
      {"logsender", "start", "--foreground", "--timeout", "3", "-P", std::to_string(port), "-A",
       "127.0.0.1", "-T", h.TranlogDir("prod"), "-s", "prod", "-l", h.TempPath("fg.log")},
      out);
  REQUIRE(WaitFor([&] {
    return ReadAll(out).find("The logsender for the stone 'prod' listens on 127.0.0.1:" +
                             std::to_string(port)) != std::string::npos;
  }));
  Result<daemon::ProcessDescription> d =
      daemon::ReadPidFile(h.Path("run/logsender-" + std::to_string(port) + ".pid"));
  REQUIRE(d.ok());
  CHECK(d->pid == pid);
  kill(pid, SIGTERM);
  CHECK(CliHarness::Wait(pid) == 0);
  CHECK(ReadAll(h.TempPath("fg.log")).find("stop requested (SIGTERM)") != std::string::npos);
  CHECK(!std::filesystem::exists(h.Path("run/logsender-" + std::to_string(port) + ".pid")));
}

// A logsender killed a moment ago may still hold its run/*.lock while its threads exit
// (test/dying_holder.h): startlogsender waits for it, says so, and starts.
TEST_CASE("AStartWaitsForAKilledLogsenderThatStillHoldsItsLock") {
  SenderHarness h;
  h.CreateAndStart("prod");
  int port = FreePort();
  REQUIRE(Env::Default()->CreateDirs(h.Path("run")).ok());
  DyingHolder holder(h.Path("run/logsender-" + std::to_string(port) + ".lock"));
  const std::string out = h.TempPath("start.out");
  pid_t start = h.Spawn({"logsender", "start", "-P", std::to_string(port), "-A", "127.0.0.1",
                         "-T", h.TranlogDir("prod"), "-s", "prod"},
                        out);
  REQUIRE(WaitFor([&] { return ReadAll(out).find("still exiting") != std::string::npos; }));
  CHECK(ReadAll(out).find("held by pid " + std::to_string(holder.pid())) != std::string::npos);
  holder.Release();
  INFO(ReadAll(out));
  CHECK(CliHarness::Wait(start) == 0);
  CHECK(h.LogHas(port, "following the stone 'prod'"));
}

}  // namespace tranship::test
