// scripts/watchdog: a stone, logsender and logreceiver killed with kill -9 are started
// again by one watchdog run with the options they were given, the log says why, a
// running process is left alone, the pause file holds the watchdog back, and
// watchdog-loop brings a process back by itself and ends promptly on SIGTERM.

#include <signal.h>

#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include "base/json_parse.h"
#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

std::string WatchdogLog(const Host& h) { return ReadAll(h.Path("log/watchdog.log")); }

TEST_CASE("watchdog: a stone killed with kill -9 is started again, a running one is left alone") {
  Cluster c(0);
  Host& h = c.primary();
  c.StartStone(h, "prod");
  pid_t first = h.PidOf("prod.pid");

  Proc ok = RunScript(h, "watchdog/watchdog", {"-v", "stone", "prod"});
  REQUIRE_MESSAGE(ok.code == 0, ok.out);
  CHECK(h.PidOf("prod.pid") == first);
  CHECK(Contains(WatchdogLog(h), "stone 'prod': running (pid " + std::to_string(first) + ")"));

  KillNineDaemon(first);
  Proc r = RunScript(h, "watchdog/watchdog", {"stone", "prod"});
  REQUIRE_MESSAGE(r.code == 0, r.out);
  pid_t second = h.PidOf("prod.pid");
  CHECK(second != first);
  CHECK(daemon::IsStoneProcess(second, "prod"));
  std::string log = WatchdogLog(h);
  CHECK(Contains(log, "stone 'prod': its process (pid " + std::to_string(first) +
                          ") died without stopping cleanly (stale pid file); restarting: "
                          "tranship stone start prod"));
  CHECK(Contains(log, "stone 'prod': restarted: Started the stone 'prod' (pid " +
                          std::to_string(second) + ")"));
  Proc put = h.Run({"put", "prod", "after", "restart"});
  CHECK_MESSAGE(put.code == 0, put.out);

  SUBCASE("a stone given -R comes back in restore mode") {
    KillNineDaemon(second);
    Proc rr = RunScript(h, "watchdog/watchdog", {"stone", "prod", "-R"});
    REQUIRE_MESSAGE(rr.code == 0, rr.out);
    auto d = daemon::ReadPidFile(h.Path("run/prod.pid"));
    REQUIRE(d.ok());
    CHECK(d->mode == "restore");
    CHECK(Contains(WatchdogLog(h), "restarting: tranship stone start prod -R"));
  }
  SUBCASE("a stone stopped cleanly is started again; the pause file holds the watchdog back") {
    REQUIRE(h.Run({"stone", "stop", "prod"}).code == 0);
    WriteAll(h.Path("etc/watchdog.paused"), "");
    Proc paused = RunScript(h, "watchdog/watchdog", {"stone", "prod"});
    CHECK(paused.code == 0);
    CHECK(h.PidOf("prod.pid") == 0);
    std::filesystem::remove(h.Path("etc/watchdog.paused"));
    Proc rr = RunScript(h, "watchdog/watchdog", {"stone", "prod"});
    REQUIRE_MESSAGE(rr.code == 0, rr.out);
    CHECK(daemon::IsStoneProcess(h.PidOf("prod.pid"), "prod"));
    CHECK(Contains(WatchdogLog(h), "stone 'prod': it is stopped; restarting"));
  }
  SUBCASE("a stone that does not exist: one line on stderr, exit 1") {
    Proc bad = RunScript(h, "watchdog/watchdog", {"stone", "nosuch"});
    CHECK(bad.code == 1);
    CHECK(bad.out == "watchdog: the stone 'nosuch' does not exist in " + h.root() +
                         ". To fix this run 'tranship stone create nosuch' or fix the crontab "
                         "line.\n");
  }
}

// The archive end TID in a logreceiver's status file, or 0.
uint64_t ArchiveTid(const Host& h, const std::string& status_file) {
  Result<tranship::JsonValue> v = tranship::ParseJson(ReadAll(h.Path("run/" + status_file)));
  if (!v.ok() || v->Get("archive_end") == nullptr) return 0;
  return v->Get("archive_end")->Uint("tid");
}

TEST_CASE("watchdog: a logsender (options from an env file) and a logreceiver killed with "
          "kill -9 are started again and ship again") {
  Cluster c(1);
  Host& p = c.primary();
  Host& s = c.standby(0);
  c.StartStone(p, "prod");
  REQUIRE(s.Run({"stone", "create", "standby"}).code == 0);
  std::string port = std::to_string(c.port());
  // The systemd EnvironmentFile format: comments, quotes, --foreground (dropped by the
  // watchdog, which starts the daemon in the background).
  std::string env = c.Temp("logsender.env");
  WriteAll(env, "# the logsender of prod\nTRANSHIP_HOME=" + p.root() + "\nLOGSENDER_OPTS=\"-P " +
                    port + " -A 127.0.0.1 -T " + p.Path("data/prod/tranlog") +
                    " -s prod --timeout 5 --foreground\"\n");
  std::vector<std::string> receiver = {"logreceiver", "--", "-P", port, "-A", "127.0.0.1",
                                       "-T", s.Path("archive"), "-s", "standby", "--timeout", "5",
                                       "--from-start"};
  const std::string sender_pid = "logsender-" + port + ".pid";
  const std::string receiver_pid = "logreceiver-" + port + "-standby.pid";

  Proc r1 = RunScript(p, "watchdog/watchdog", {"logsender", "-c", env});
  REQUIRE_MESSAGE(r1.code == 0, r1.out);
  Proc r2 = RunScript(s, "watchdog/watchdog", receiver);
  REQUIRE_MESSAGE(r2.code == 0, r2.out);
  CHECK(Contains(WatchdogLog(p), "logsender on port " + port + ": it is not running (no pid file)"));
  CHECK(Contains(WatchdogLog(s), "logreceiver 'standby' on port " + port +
                                     ": it is not running (no pid file)"));
  pid_t sender = p.PidOf(sender_pid), recv = s.PidOf(receiver_pid);
  REQUIRE(sender > 0);
  REQUIRE(recv > 0);
  REQUIRE(p.Run({"put", "prod", "a", "1"}).code == 0);
  REQUIRE(WaitFor([&] { return ArchiveTid(s, "logreceiver-" + port + "-standby.status") >= 2; },
                  std::chrono::seconds(30)));

  KillNineDaemon(sender);
  KillNineDaemon(recv);
  Proc r3 = RunScript(p, "watchdog/watchdog", {"logsender", "-c", env});
  REQUIRE_MESSAGE(r3.code == 0, r3.out);
  Proc r4 = RunScript(s, "watchdog/watchdog", receiver);
  REQUIRE_MESSAGE(r4.code == 0, r4.out);
  CHECK(Contains(WatchdogLog(p), "logsender on port " + port + ": its process (pid " +
                                     std::to_string(sender) + ") died without stopping cleanly"));
  CHECK(Contains(WatchdogLog(s), "logreceiver 'standby' on port " + port + ": its process (pid " +
                                     std::to_string(recv) + ") died without stopping cleanly"));
  CHECK(!Contains(WatchdogLog(p), "--foreground"));
  pid_t sender2 = p.PidOf(sender_pid), recv2 = s.PidOf(receiver_pid);
  CHECK(sender2 != sender);
  CHECK(recv2 != recv);
  CHECK(ProcessAlive(sender2));
  CHECK(ProcessAlive(recv2));
  // Shipping goes on: a commit made after the restarts reaches the archive.
  uint64_t before = ArchiveTid(s, "logreceiver-" + port + "-standby.status");
  REQUIRE(p.Run({"put", "prod", "b", "2"}).code == 0);
  CHECK(WaitFor([&] { return ArchiveTid(s, "logreceiver-" + port + "-standby.status") > before; },
                std::chrono::seconds(30)));
  // Running daemons are left alone.
  REQUIRE(RunScript(p, "watchdog/watchdog", {"logsender", "-c", env}).code == 0);
  CHECK(p.PidOf(sender_pid) == sender2);
}

TEST_CASE("watchdog-loop: a stone killed with kill -9 comes back by itself; SIGTERM ends the loop") {
  Cluster c(0);
  Host& h = c.primary();
  c.StartStone(h, "prod");
  pid_t first = h.PidOf("prod.pid");
  pid_t loop = SpawnScript(h, "watchdog/watchdog-loop", {"-i", "1", "stone prod"}, c.Temp("loop.out"));
  KillOnExit guard{loop};
  KillNineDaemon(first);
  CHECK(WaitFor([&] {
    pid_t now = h.PidOf("prod.pid");
    return now != first && now != 0 && daemon::IsStoneProcess(now, "prod");
  }, std::chrono::seconds(30)));
  // The watchdog logs once `stone start` has returned, which is after the pid file.
  CHECK(WaitFor([&] { return Contains(WatchdogLog(h), "stone 'prod': restarted"); },
                std::chrono::seconds(30)));
  kill(loop, SIGTERM);
  CHECK(WaitExit(loop, std::chrono::seconds(10)) == 0);
}

}  // namespace
}  // namespace tranship::test
