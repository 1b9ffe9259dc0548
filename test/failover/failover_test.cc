// tranship failover with real processes: each host a TRANSHIP_HOME of its own, the real
// `tranship` binary, real logsender/logreceiver pairs, standbys in continuous restore.
// The planned case proves zero loss (digests, every acknowledged commit on the new
// primary); the emergency case proves the new primary holds exactly a prefix of what
// the killed primary logged, and nothing else.

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "client/client.h"
#include "tranlog/reader.h"
#include "tranlog/commit.h"
#include "test/failover/emergency_trial.h"
#include "test/regex.h"
#include "test/shipping/cluster.h"

namespace tranship::test {
namespace {

std::string Hash(const std::string& digest) { return digest.substr(digest.rfind(' ') + 1); }


size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// The primary "prod" shipping to "standby" and "standby2", both in continuous restore.
void StartPrimaryAndTwoStandbys(Cluster& c) {
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  SeedStandby(c, 1, "standby2");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  c.StartReceiver(1, "standby2");
}

TEST_CASE("PlannedFailoverUnderLoadLosesNothingAndTheOtherStandbyReachesTheCheckpoint") {
  Cluster c(2);
  StartPrimaryAndTwoStandbys(c);
  std::string ack = c.Temp("ack.log");
  pid_t load = StartWorkload(c, ack, 120);
  REQUIRE(WaitFor([&] { return Acks(ack) >= 300; }, kConverge));

  Proc f = c.primary().Run({"failover", "--planned", "--primary", Ref(c.primary(), "prod"),
                            "--standby", Ref(c.standby(0), "standby"), "--other-standby",
                            Ref(c.standby(1), "standby2"), "--timeout", "60"});
  INFO(f.out);
  REQUIRE(f.code == 0);
  // The writers stop at their first refused commit; every acknowledged one is in the log.
  int st = 0;
  REQUIRE(waitpid(load, &st, 0) == load);
  CHECK(ReadAll(c.Temp("workload-wl.out")).find("suspended for failover") != std::string::npos);

  for (std::string title : {"check prod and standby", "suspend-commits on prod",
                            "wait for standby to replay the failover checkpoint",
                            "stop the logreceiver of standby", "commit-restore on standby",
                            "wait for standby2 to replay the failover checkpoint"}) {
    CHECK_MESSAGE(StepDone(f.out, title), title);
  }
  std::smatch m;
  REQUIRE(std::regex_search(f.out, m, std::regex("failover checkpoint at TID ([0-9]+)")));
  std::string tid = m[1];
  CHECK(StepDone(f.out, "compare digests of prod and standby at TID " + tid));
  CHECK(f.out.find("Failover time: ") != std::string::npos);
  CHECK(f.out.find("to commit-restore returning") != std::string::npos);

  // Zero loss: the old primary is still at its failover checkpoint; the new primary holds
  // the same state (the digest hashes the state only: the lineage-start record adds a
  // TID, not data), and the other standby stopped exactly there.
  std::string at_failover = Digest(c.primary(), "prod");
  CHECK(at_failover.starts_with("tid " + tid + " "));
  CHECK(Hash(Digest(c.standby(0), "standby")) == Hash(at_failover));
  CHECK(Digest(c.standby(1), "standby2") == at_failover);
  Ok(c.standby(0), {"workload", "standby", "--check", ack, "--keys-per-txn", "2"});
  // The new primary accepts writes; the old one still refuses them.
  Ok(c.standby(0), {"put", "standby", "after-failover", "1"});
  CHECK(c.standby(0).Run({"get", "standby", "after-failover"}).out == "1\n");
  Proc refused = c.primary().Run({"put", "prod", "x", "y"});
  CHECK(refused.code == 1);
  CHECK(refused.out.find("suspended for failover") != std::string::npos);
}

// Standby i seeded the usual way: a full backup of the running primary, `stone create
// --from-backup` (restore mode at the backup's TID, no tranlog of its own yet), then
// continuous restore over an archive its logreceiver fills.
void SeedFromBackup(Cluster& c, int i, const std::string& name) {
  std::string backup = c.Temp(name + ".bak");
  Ok(c.primary(), {"admin", "prod", "full-backup", backup});
  Host& s = c.standby(i);
  Ok(s, {"stone", "create", name, "--from-backup", backup});
  Ok(s, {"stone", "start", name});
  std::filesystem::create_directories(s.Path("archive"));
  Ok(s, {"admin", name, "continuous-restore", s.Path("archive")});
}

// A logsender or logreceiver in the foreground on `h`, stopped with SIGKILL at the end.
struct Daemon {
  pid_t pid = 0;
  ~Daemon() {
    if (pid > 0) Cluster::KillNine(pid);
  }
};
// A receiver from the new primary into an empty archive, then continuous restore over
// it once the new lineage's first tranlog is there: a restored history that ends at a
// failover checkpoint stops continuous restore as soon as it is caught up.
void Follow(Daemon* d, Cluster& c, Host& h, int port, const std::string& stone) {
  std::string archive = h.Path("archive-new-primary");
  std::filesystem::create_directories(archive);
  d->pid = h.Spawn({"-P", std::to_string(port), "-A", "127.0.0.1", "-T", archive, "-s", stone,
                    "--foreground", "--timeout", "5"},
                   c.Temp("receiver-" + stone + ".out"), "startlogreceiver");
  REQUIRE(WaitFor([&] { return !std::filesystem::is_empty(archive); }, kConverge));
  Ok(h, {"admin", stone, "continuous-restore", archive});
}

TEST_CASE("TheWorkloadTimesCommitToVisibleOnEachStandby") {
  // The demo's lag figures: a sampler beside the writers commits a key every 10 ms and
  // reads each standby (through its stone's socket) until it is there.
  Cluster c(2);
  StartPrimaryAndTwoStandbys(c);
  const std::string sockets =
      c.standby(0).Path("run/standby.sock") + "," + c.standby(1).Path("run/standby2.sock");
  Proc p = c.primary().Run({"workload", "prod", "--writers", "2", "--transactions", "600",
                            "--visible-on", sockets});
  INFO(p.out);
  REQUIRE(p.code == 0);
  for (std::string standby : {"standby", "standby2"}) {
    std::smatch m;
    REQUIRE(std::regex_search(
        p.out, m,
        std::regex("workload: commit -> visible on " + standby +
                   ": p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms \\(([0-9]+) samples\\)\n")));
    CHECK(std::stoi(m[1]) >= 1);
  }
  // The sampled keys were committed on the primary and read on both standbys.
  CHECK(Ok(c.standby(0), {"get", "standby", "wl-lag/0"}).out == "x\n");
  CHECK(Ok(c.standby(1), {"get", "standby2", "wl-lag/0"}).out == "x\n");

  // Writers with nothing to do, done before the sampler has connected, still leave it
  // one sample.
  Proc quick = c.primary().Run({"workload", "prod", "--writers", "1", "--transactions", "0",
                                "--key-prefix", "quick", "--visible-on", sockets});
  INFO(quick.out);
  REQUIRE(quick.code == 0);
  CHECK(quick.out.find("workload: commit -> visible on standby2: p50 ") != std::string::npos);

  // A socket where no stone listens: the workload says so in one line and fails.
  Proc bad = c.primary().Run({"workload", "prod", "--writers", "1", "--transactions", "5",
                              "--visible-on", c.Temp("no-stone.sock")});
  CHECK(bad.code != 0);
  CHECK(bad.out.find("workload: measuring the lag: ") != std::string::npos);
}

TEST_CASE("AfterAPlannedFailoverTheOldPrimaryAndAnotherStandbyFollowWithoutReseeding") {
  Cluster c(2);
  c.StartStone(c.primary(), "prod");
  Ok(c.primary(), {"workload", "prod", "--writers", "4", "--transactions", "100"});
  SeedFromBackup(c, 0, "standby");
  SeedFromBackup(c, 1, "standby2");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  pid_t old_receiver2 = c.StartReceiver(1, "standby2");
  Ok(c.primary(), {"workload", "prod", "--writers", "4", "--transactions", "300"});
  Proc f = c.primary().Run({"failover", "--planned", "--primary", Ref(c.primary(), "prod"),
                            "--standby", Ref(c.standby(0), "standby"), "--other-standby",
                            Ref(c.standby(1), "standby2")});
  INFO(f.out);
  REQUIRE(f.code == 0);

  // README "Failover": a logsender for the new primary; the old primary restarted with
  // -R; every receiver into a new, empty archive (it starts from its stone's restored
  // position: the failover checkpoint, where the new lineage begins).
  int port = FreePort();
  Daemon sender, from_prod, from_standby2;
  sender.pid = c.standby(0).Spawn({"-P", std::to_string(port), "-A", "127.0.0.1", "-T",
                                   c.standby(0).Path("data/standby/tranlog"), "-s", "standby",
                                   "--foreground", "--timeout", "5"},
                                  c.Temp("new-sender.out"), "startlogsender");
  Ok(c.primary(), {"stone", "stop", "prod"});
  Ok(c.primary(), {"stone", "start", "prod", "-R"});
  Follow(&from_prod, c, c.primary(), port, "prod");
  CHECK(Cluster::Stop(old_receiver2) == 0);
  Follow(&from_standby2, c, c.standby(1), port, "standby2");

  Ok(c.standby(0), {"workload", "standby", "--writers", "4", "--transactions", "200",
                    "--keys-per-txn", "3"});
  Ok(c.standby(0), {"put", "standby", "after-failover", "1"});
  std::string want = Digest(c.standby(0), "standby");
  REQUIRE_FALSE(want.empty());
  for (auto [h, stone] : {std::pair<Host*, std::string>{&c.primary(), "prod"},
                          {&c.standby(1), "standby2"}}) {
    std::string got;
    bool same = WaitFor([&] { return (got = Digest(*h, stone)) == want; }, kConverge);
    INFO(stone << ": " << got << " want " << want);
    INFO(h->Run({"admin", stone, "restore-status"}).out);
    INFO(ReadAll(c.Temp("receiver-" + stone + ".out")));
    CHECK(same);
  }
}

TEST_CASE("PlannedFailoverRefusesAStandbyNotInContinuousRestoreBeforeSuspending") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  Ok(c.standby(0), {"admin", "standby", "stop-continuous-restore"});
  Proc f = c.primary().Run({"failover", "--planned", "--primary", Ref(c.primary(), "prod"),
                            "--standby", Ref(c.standby(0), "standby")});
  INFO(f.out);
  CHECK(f.code == 1);
  CHECK(f.out.find("  check prod and standby ... failed after ") != std::string::npos);
  CHECK(f.out.find("suspend-commits") == std::string::npos);
  // The last line says what is wrong and what to do, and that nothing changed.
  std::string last = f.out.substr(f.out.rfind('\n', f.out.size() - 2) + 1);
  CHECK(last.find("'standby' is not in continuous restore") != std::string::npos);
  CHECK(last.find("admin standby continuous-restore ARCHIVE_DIR") != std::string::npos);
  CHECK(last.find("TRANSHIP_HOME=" + c.standby(0).root()) != std::string::npos);
  CHECK(last.find("'prod' still accepts commits") != std::string::npos);
  Ok(c.primary(), {"put", "prod", "still", "primary"});
}

TEST_CASE("PlannedFailoverStopsWithThePrimarySuspendedWhenTheStandbyNeverGetsThere") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  c.StartSender("prod");
  pid_t receiver = c.StartReceiver(0, "standby");
  Ok(c.primary(), {"workload", "prod", "--writers", "2", "--transactions", "100"});
  // The standby's receiver is gone: the failover checkpoint cannot reach it.
  Cluster::KillNine(receiver);
  Proc f = c.primary().Run({"failover", "--planned", "--primary", Ref(c.primary(), "prod"),
                            "--standby", Ref(c.standby(0), "standby"), "--timeout", "2"});
  INFO(f.out);
  CHECK(f.code == 1);
  CHECK(StepDone(f.out, "suspend-commits on prod"));
  CHECK(f.out.find("  wait for standby to replay the failover checkpoint ... failed after 2.")
        != std::string::npos);
  std::string last = f.out.substr(f.out.rfind('\n', f.out.size() - 2) + 1);
  CHECK(Lines(last) == 1);
  CHECK(last.find("did not replay the failover checkpoint") != std::string::npos);
  CHECK(last.find("'prod' stays suspended at its failover checkpoint") != std::string::npos);
  CHECK(last.find("admin prod resume-commits") != std::string::npos);
  CHECK(c.primary().Run({"put", "prod", "x", "y"}).code == 1);
  CHECK(c.standby(0).Run({"admin", "standby", "restore-status"}).out.find("continuous restore")
        != std::string::npos);

  // Once the receiver is back, running the failover again continues from the suspension.
  c.StartReceiver(0, "standby");
  f = c.primary().Run({"failover", "--planned", "--primary", Ref(c.primary(), "prod"),
                       "--standby", Ref(c.standby(0), "standby"), "--probe-key", "probe"});
  INFO(f.out);
  REQUIRE(f.code == 0);
  CHECK(f.out.find("already suspended: failover checkpoint at TID") != std::string::npos);
  CHECK(StepDone(f.out, "probe write on standby"));
  CHECK(f.out.find("to the first write accepted on standby (the probe write)") != std::string::npos);
  CHECK(c.standby(0).Run({"get", "standby", "probe"}).out.starts_with("planned failover from prod"));
}

TEST_CASE("EmergencyFailoverRefusesWhileThePrimaryRuns") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  Proc f = c.standby(0).Run({"failover", "--emergency", "--standby", "standby", "--primary",
                             Ref(c.primary(), "prod")});
  INFO(f.out);
  CHECK(f.code == 1);
  CHECK(f.out.find("  check standby ... failed after ") != std::string::npos);
  std::string last = f.out.substr(f.out.rfind('\n', f.out.size() - 2) + 1);
  CHECK(last.find("Emergency failover stopped before it changed anything: 'prod' is still "
                  "running") != std::string::npos);
  CHECK(last.find("--planned") != std::string::npos);
  CHECK(c.standby(0).Run({"admin", "standby", "restore-status"}).out.find("continuous restore")
        != std::string::npos);
  Ok(c.primary(), {"put", "prod", "still", "primary"});
}

TEST_CASE("EmergencyFailoverAfterKillNineUnderLoadKeepsAPrefixAndInventsNothing") {
  EmergencyOutcome out = EmergencyFailoverTrial(2000, 0);
  CHECK(out.present_acked > 0);  // the standby had received part of the load
}

TEST_CASE("AfterAnEmergencyFailoverTheOldPrimaryIsReseededFromABackupAndFollows") {
  // README, "After an emergency failover, reseed", step by step.
  EmergencyFailoverTrial(1000, 0, [](Cluster& c) {
    Host& old_host = c.primary();
    Host& new_host = c.standby(0);
    std::string backup = c.Temp("standby-after-failover.bak");
    Ok(new_host, {"admin", "standby", "full-backup", backup});
    std::filesystem::copy(old_host.Path("data/prod/tranlog"),
                          old_host.Path("prod-tranlog-before-failover"),
                          std::filesystem::copy_options::recursive);
    Ok(old_host, {"stone", "start", "prod", "-R"});
    Ok(old_host, {"admin", "prod", "restore-from-backup", backup});
    // The old primary never accepts a commit again until an operator promotes it.
    CHECK(old_host.Run({"put", "prod", "k", "v"}).code != 0);

    int port = FreePort();
    Daemon sender, receiver;
    sender.pid = new_host.Spawn({"-P", std::to_string(port), "-A", "127.0.0.1", "-T",
                                 new_host.Path("data/standby/tranlog"), "-s", "standby",
                                 "--foreground", "--timeout", "5"},
                                c.Temp("new-sender.out"), "startlogsender");
    std::string archive = old_host.Path("archive-standby1");
    std::filesystem::create_directories(archive);
    receiver.pid = old_host.Spawn({"-P", std::to_string(port), "-A", "127.0.0.1", "-T", archive,
                                   "-s", "prod", "--foreground", "--timeout", "5"},
                                  c.Temp("old-primary-receiver.out"), "startlogreceiver");
    Ok(old_host, {"admin", "prod", "continuous-restore", archive});
    for (int i = 0; i < 50; i++) {
      Ok(new_host, {"put", "standby", "after/" + std::to_string(i), "reseeded"});
    }
    std::string want = Digest(new_host, "standby");
    INFO("receiver: " << ReadAll(c.Temp("old-primary-receiver.out")));
    CHECK(WaitFor([&] { return Digest(old_host, "prod") == want; }, kConverge));
    // What the old primary had left behind is kept aside, untouched.
    CHECK(std::filesystem::exists(old_host.Path("prod-tranlog-before-failover/tranlog1.dbf")));
  });
}

}  // namespace
}  // namespace tranship::test
