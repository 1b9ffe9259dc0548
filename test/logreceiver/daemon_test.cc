// The logreceiver daemon as an operator meets it: startlogreceiver / stoplogreceiver
// run as real processes against a temporary TRANSHIP_HOME, with no logsender (a closed
// loopback port): the daemon keeps running, reports "connecting", and stops cleanly.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "base/env.h"
#include "daemon/run_files.h"
#include "test/cli/cli_harness.h"
#include "test/dying_holder.h"
#include "test/free_port.h"

namespace tranship {
namespace {

using test::CliHarness;
using test::OneLine;
using test::RunResult;

using test::FreePort;

struct Receiver {
  CliHarness& h;
  int port;
  std::string stone;
  std::string archive;

  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    // --from-start: most of these receivers have no standby stone to ask.
    std::vector<std::string> a = {"-P", std::to_string(port), "-A", "127.0.0.1", "-T",
                                  archive, "-s", stone, "--from-start"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string Base() const { return fmt::format("logreceiver-{}-{}", port, stone); }
  std::string PidPath() const { return h.Path("run/" + Base() + ".pid"); }
  std::string StatusPath() const { return h.Path("run/" + Base() + ".status"); }
  std::string LogPath() const { return h.Path("log/" + Base() + ".log"); }
  std::string Status() const { return test::ReadAll(StatusPath()); }
};

void KillReceivers(CliHarness& h) {
  for (const daemon::ProcessDescription& d : daemon::ReadPidFiles(h.Path("run"))) {
    if (d.type == "logreceiver" && ProcessAlive(d.pid)) kill(d.pid, SIGKILL);
  }
}

// A failing test leaves no receiver behind.
struct KillOnExit {
  CliHarness& h;
  ~KillOnExit() { KillReceivers(h); }
};

TEST_CASE("StartReportsConnectingWithoutASenderAndStopsCleanly") {
  CliHarness h;
  KillOnExit guard{h};
  Receiver r{h, FreePort(), "standby1", h.TempPath("archive")};
  RunResult start = h.RunAlias("startlogreceiver", r.Args());
  REQUIRE_MESSAGE(start.code == 0, start.err);
  CHECK(OneLine(start.out));
  CHECK(start.out.find("standby1") != std::string::npos);

  auto d = daemon::ReadPidFile(r.PidPath());
  REQUIRE(d.ok());
  CHECK(d->type == "logreceiver");
  CHECK(d->name == "standby1");
  CHECK(d->port == std::to_string(r.port));
  CHECK(ProcessAlive(d->pid));
  // It keeps trying: connecting, with the reason in the status file.
  CHECK(test::WaitFor([&] {
    std::string s = r.Status();
    return s.find("\"state\":\"connecting\"") != std::string::npos &&
           s.find("connection refused") != std::string::npos;
  }));
  CHECK(r.Status().find(fmt::format("\"pid\":{}", d->pid)) != std::string::npos);
  CHECK(ProcessAlive(d->pid));

  RunResult stop = h.RunAlias("stoplogreceiver", {"-P", std::to_string(r.port)});
  CHECK_MESSAGE(stop.code == 0, stop.err);
  CHECK(OneLine(stop.out));
  CHECK_FALSE(ProcessAlive(d->pid));
  CHECK_FALSE(Env::Default()->FileExists(r.PidPath()));
  CHECK_FALSE(Env::Default()->FileExists(r.StatusPath()));
  std::string log = test::ReadAll(r.LogPath());
  CHECK(log.find("stop requested (SIGTERM)") != std::string::npos);
  CHECK(log.find("not encrypted") == std::string::npos);  // never connected

  RunResult again = h.RunAlias("stoplogreceiver", {"-P", std::to_string(r.port)});
  CHECK(again.code == 1);
  CHECK(OneLine(again.err));
  CHECK(again.err.find("No logreceiver is running on port") != std::string::npos);
}

TEST_CASE("ASecondReceiverForTheSamePortAndStoneIsRefused") {
  CliHarness h;
  KillOnExit guard{h};
  Receiver r{h, FreePort(), "standby1", h.TempPath("archive")};
  REQUIRE(h.RunAlias("startlogreceiver", r.Args()).code == 0);
  RunResult second = h.RunAlias("startlogreceiver", r.Args());
  CHECK(second.code == 1);
  CHECK(OneLine(second.err));
  CHECK(second.err.find("already running") != std::string::npos);
  CHECK(second.err.find("stoplogreceiver -P") != std::string::npos);
  // In the foreground too.
  std::vector<std::string> fg_args = {"logreceiver", "start", "--foreground"};
  for (const std::string& a : r.Args()) fg_args.push_back(a);
  RunResult fg = h.Run(fg_args);
  CHECK(fg.code == 1);
  CHECK(OneLine(fg.err));
  CHECK(fg.err.find("already running") != std::string::npos);
  CHECK(h.RunAlias("stoplogreceiver", {"-P", std::to_string(r.port)}).code == 0);
}

TEST_CASE("SeveralReceiversOnOnePortNeedTheStoneToStop") {
  CliHarness h;
  KillOnExit guard{h};
  int port = FreePort();
  Receiver a{h, port, "standby1", h.TempPath("a")};
  Receiver b{h, port, "standby2", h.TempPath("b")};
  REQUIRE(h.RunAlias("startlogreceiver", a.Args()).code == 0);
  REQUIRE(h.RunAlias("startlogreceiver", b.Args()).code == 0);
  RunResult which = h.RunAlias("stoplogreceiver", {"-P", std::to_string(port)});
  CHECK(which.code == 1);
  CHECK(OneLine(which.err));
  CHECK(which.err.find("standby1, standby2") != std::string::npos);
  CHECK(h.RunAlias("stoplogreceiver", {"-P", std::to_string(port), "-s", "standby2"}).code == 0);
  CHECK(Env::Default()->FileExists(a.PidPath()));
  CHECK_FALSE(Env::Default()->FileExists(b.PidPath()));
  CHECK(h.RunAlias("stoplogreceiver", {"-P", std::to_string(port)}).code == 0);
}

TEST_CASE("ForegroundRunsUntilSigterm") {
  CliHarness h;
  KillOnExit guard{h};
  Receiver r{h, FreePort(), "standby1", h.TempPath("archive")};
  pid_t pid = h.Spawn({"logreceiver", "start", "--foreground", "--timeout", "2", "-P",
                       std::to_string(r.port), "-A", "127.0.0.1", "-T", r.archive, "-s",
                       r.stone, "-v"},
                      h.TempPath("fg.out"));
  // Readiness is one line on stdout, after the pid and status files are written.
  REQUIRE(test::WaitFor([&] {
    return test::ReadAll(h.TempPath("fg.out")).find("receives from") != std::string::npos;
  }));
  CHECK(Env::Default()->FileExists(r.StatusPath()));
  auto d = daemon::ReadPidFile(r.PidPath());
  REQUIRE(d.ok());
  CHECK(d->pid == pid);
  kill(pid, SIGTERM);
  CHECK(CliHarness::Wait(pid) == 0);
  CHECK_FALSE(Env::Default()->FileExists(r.PidPath()));
}

TEST_CASE("TellsItsStandbyStoneWhenItRuns") {
  CliHarness h;
  KillOnExit guard{h};
  REQUIRE(h.Run({"stone", "create", "standby1"}).code == 0);
  REQUIRE(h.RunAlias("startstone", {"standby1"}).code == 0);
  Receiver r{h, FreePort(), "standby1", h.TempPath("archive")};
  REQUIRE(h.RunAlias("startlogreceiver", r.Args()).code == 0);
  CHECK(test::WaitFor([&] {
    return test::ReadAll(r.LogPath()).find("connected to the standby stone 'standby1'") !=
           std::string::npos;
  }));
  CHECK(test::WaitFor([&] {
    return test::ReadAll(h.Path("log/standby1.log")).find("a logreceiver logged in") !=
           std::string::npos;
  }));
  CHECK(h.RunAlias("stoplogreceiver", {"-P", std::to_string(r.port)}).code == 0);
  CHECK(test::WaitFor([&] {
    return test::ReadAll(h.Path("log/standby1.log")).find("a logreceiver logged out") !=
           std::string::npos;
  }));
  CHECK(h.RunAlias("stopstone", {"standby1"}).code == 0);
}

// Without --from-start, an empty archive starts where the standby stone's state ends:
// the receiver waits (saying so once) until the stone runs in restore mode, then asks
// the logsender for the tranlog after the stone's TID.
TEST_CASE("AnEmptyArchiveWaitsForItsStandbyStoneToSayWhereItEnds") {
  CliHarness h;
  KillOnExit guard{h};
  REQUIRE(h.Run({"stone", "create", "standby1"}).code == 0);
  Receiver r{h, FreePort(), "standby1", h.TempPath("archive")};
  std::vector<std::string> args = r.Args();
  args.pop_back();  // no --from-start
  REQUIRE(h.RunAlias("startlogreceiver", args).code == 0);
  const std::string waiting =
      "waiting for the standby stone 'standby1' to say where its state ends";
  CHECK(test::WaitFor([&] {
    return r.Status().find("\"state\":\"waiting for stone\"") != std::string::npos;
  }));
  CHECK(test::WaitFor([&] {
    return test::ReadAll(r.LogPath()).find(waiting) != std::string::npos;
  }));
  CHECK(r.Status().find("is not running") != std::string::npos);
  // A primary has no restored position: still waiting, with that reason.
  REQUIRE(h.RunAlias("startstone", {"standby1"}).code == 0);
  CHECK(test::WaitFor([&] {
    return test::ReadAll(r.LogPath()).find("not in restore mode") != std::string::npos;
  }));
  REQUIRE(h.RunAlias("stopstone", {"standby1"}).code == 0);
  REQUIRE(h.RunAlias("startstone", {"standby1", "-R"}).code == 0);
  CHECK(test::WaitFor([&] {
    return test::ReadAll(r.LogPath()).find("the standby stone 'standby1' ends at TID") !=
           std::string::npos;
  }, std::chrono::seconds(15)));
  CHECK(test::WaitFor([&] {
    return r.Status().find("\"state\":\"connecting\"") != std::string::npos;
  }));
  std::string log = test::ReadAll(r.LogPath());
  size_t first = log.find(waiting);
  CHECK(log.find(waiting, first + 1) == std::string::npos);  // said once
  CHECK(h.RunAlias("stoplogreceiver", {"-P", std::to_string(r.port)}).code == 0);
  CHECK(h.RunAlias("stopstone", {"standby1"}).code == 0);
}

TEST_CASE("ErrorsAreOneLine") {
  CliHarness h;
  KillOnExit guard{h};
  std::string port = std::to_string(FreePort());
  std::string archive = h.TempPath("archive");
  auto expect = [&](std::vector<std::string> args, const std::string& words) {
    RunResult r = h.RunAlias("startlogreceiver", args);
    CHECK(r.code != 0);
    CHECK_MESSAGE(OneLine(r.err), r.err);
    CHECK_MESSAGE(r.err.find(words) != std::string::npos, r.err);
    CHECK(r.out.empty());
  };
  expect({"-P", port, "-A", "127.0.0.1", "-s", "standby1"}, "-T is required");
  expect({"-P", "0", "-A", "127.0.0.1", "-T", archive, "-s", "standby1"}, "not a TCP port");
  expect({"-P", "x", "-A", "127.0.0.1", "-T", archive, "-s", "standby1"}, "whole number");
  expect({"-P", port, "-A", "127.0.0.1", "-T", archive, "-s", "standby1", "--bogus"},
         "Unknown option");
  expect({"-P", port, "-A", "127.0.0.1", "-T", archive, "-s", "standby1", "-v", "-q"},
         "exclude each other");
  expect({"-P", port, "-A", "127.0.0.1", "-T", archive, "-s", "standby1", "-J", "ca.pem"},
         "need -S");
  expect({"-P", port, "-A", "127.0.0.1", "-T", archive, "-s", "standby1", "-S", "-J",
          h.TempPath("missing-ca.pem"), "-C", h.TempPath("missing.pem"), "-K",
          h.TempPath("missing.key")},
         "cannot read");
  test::WriteAll(h.TempPath("file"), "x");
  expect({"-P", port, "-A", "127.0.0.1", "-T", h.TempPath("file") + "/archive", "-s",
          "standby1"},
         "not writable");
  RunResult stop = h.RunAlias("stoplogreceiver", {});
  CHECK(stop.code != 0);
  CHECK(OneLine(stop.err));
  CHECK(daemon::ReadPidFiles(h.Path("run")).empty());
}

}  // namespace
// A logreceiver killed a moment ago may still hold its run/*.lock while its threads exit
// (test/dying_holder.h): startlogreceiver waits for it, says so, and starts.
TEST_CASE("AStartWaitsForAKilledLogreceiverThatStillHoldsItsLock") {
  CliHarness h;
  KillOnExit guard{h};
  Receiver r{h, FreePort(), "standby1", h.TempPath("archive")};
  REQUIRE(Env::Default()->CreateDirs(h.Path("run")).ok());
  test::DyingHolder holder(h.Path("run/" + r.Base() + ".lock"));
  const std::string out = h.TempPath("start.out");
  std::vector<std::string> args = {"logreceiver", "start"};
  for (const std::string& a : r.Args()) args.push_back(a);
  pid_t start = h.Spawn(args, out);
  REQUIRE(test::WaitFor([&] { return test::ReadAll(out).find("still exiting") != std::string::npos; }));
  CHECK(test::ReadAll(out).find("held by pid " + std::to_string(holder.pid())) != std::string::npos);
  holder.Release();
  INFO(test::ReadAll(out));
  CHECK(CliHarness::Wait(start) == 0);
  CHECK(test::WaitFor([&] { return r.Status().find("\"state\":\"connecting\"") != std::string::npos; }));
}

}  // namespace tranship
