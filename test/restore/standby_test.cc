// Standbys with real processes: each host a TRANSHIP_HOME of its own, the real
// `tranship` binary, a real logsender/logreceiver pair. Every test ends by proving the
// invariant that matters: the standby's digest equals the primary's at the same TID.

#include <filesystem>

#include "client/client.h"
#include "test/shipping/cluster.h"

namespace tranship::test {
namespace {


void Workload(Cluster& c, int n) {
  Proc p = c.primary().Run({"workload", "prod", "--writers", "4", "--transactions",
                            std::to_string(n), "--keys-per-txn", "3"});
  REQUIRE_MESSAGE(p.code == 0, p.out);
}

// The standby host gets a copy of the stopped primary's repository (a cold backup) and
// starts it in restore mode: its restored position is the primary's durable end.
void SeedStandby(Cluster& c) {
  Host& p = c.primary();
  Host& s = c.standby(0);
  Ok(p, {"stone", "stop", "prod"});
  Ok(s, {"stone", "create", "standby"});
  std::filesystem::remove_all(s.Path("data/standby"));
  std::filesystem::copy(p.Path("data/prod"), s.Path("data/standby"),
                        std::filesystem::copy_options::recursive);
  Ok(p, {"stone", "start", "prod"});
  Proc r = Ok(s, {"stone", "start", "standby", "-R"});
  CHECK(r.out.find("restore mode") != std::string::npos);
}

// Copies prod's tranlogs to the standby's archive as prodtranlogN.dbf; all but the
// newest unless `all`, leaving out `skip`.
void ShipClosed(Cluster& c, bool all, uint64_t skip = 0) {
  std::string from = c.primary().Path("data/prod/tranlog");
  std::string to = c.standby(0).Path("warm");
  std::filesystem::create_directories(to);
  std::map<uint64_t, std::string> files;
  for (auto& e : std::filesystem::directory_iterator(from)) {
    uint64_t id;
    if (tranlog::ParseFileName(e.path().filename().string(), "tranlog", &id)) files[id] = e.path();
  }
  REQUIRE_FALSE(files.empty());
  if (!all) files.erase(std::prev(files.end()));
  for (auto& [id, path] : files) {
    if (id == skip) continue;
    std::filesystem::copy_file(path, to + "/" + tranlog::FileName("prodtranlog", id),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

// Waits until the standby's digest equals the primary's (same TID, same hash).
void ExpectSameDigest(Cluster& c) {
  std::string want = Digest(c.primary(), "prod");
  REQUIRE_FALSE(want.empty());
  std::string got;
  bool same = WaitFor([&] { return (got = Digest(c.standby(0), "standby")) == want; }, kConverge);
  INFO("primary: " << want << "standby: " << got);
  INFO("standby restore-status: " << c.standby(0).Run({"admin", "standby", "restore-status"}).out);
  CHECK(same);
}

TEST_CASE("WarmStandbyRestoresCopiedTranlogsWithAnotherPrefix") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  Workload(c, 200);
  SeedStandby(c);
  Workload(c, 300);
  Ok(c.primary(), {"admin", "prod", "start-new-log"});
  Workload(c, 300);
  Ok(c.primary(), {"admin", "prod", "start-new-log"});
  Workload(c, 100);
  ShipClosed(c, /*all=*/false);
  Proc r = Ok(c.standby(0), {"admin", "standby", "restore-from-archive-logs",
                             c.standby(0).Path("warm")});
  CHECK(r.out.find("prefix 'prodtranlog', found in") != std::string::npos);
  CHECK(r.out.find("end of the available files") != std::string::npos);
  // Hot-standby reads, no writes.
  Proc put = c.standby(0).Run({"put", "standby", "x", "y"});
  CHECK(put.code == 1);
  CHECK(put.out == "The stone 'standby' is in restore mode; it accepts no commits until "
                   "'tranship admin standby commit-restore'\n");
  // The primary stops (its newest file closes); the rest is shipped and restored.
  Ok(c.primary(), {"stone", "stop", "prod"});
  ShipClosed(c, /*all=*/true);
  Ok(c.standby(0), {"admin", "standby", "restore-from-archive-logs", c.standby(0).Path("warm"),
                    "--prefix", "prodtranlog"});
  Ok(c.primary(), {"stone", "start", "prod"});
  ExpectSameDigest(c);
  Proc st = Ok(c.standby(0), {"admin", "standby", "restore-status", "--json"});
  CHECK(st.out.find("\"mode\":\"restore mode\"") != std::string::npos);
  CHECK(st.out.find("\"lag_bytes\":0") != std::string::npos);
}

TEST_CASE("AGapIsRefusedUntilAcceptGap") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c);
  for (int i = 0; i < 3; i++) {
    Workload(c, 50);
    Ok(c.primary(), {"admin", "prod", "start-new-log"});
  }
  ShipClosed(c, /*all=*/false, /*skip=*/2);
  Proc r = c.standby(0).Run({"admin", "standby", "restore-from-archive-logs",
                             c.standby(0).Path("warm")});
  CHECK(r.code == 1);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK(r.out.find("prodtranlog2.dbf is missing") != std::string::npos);
  Proc refused = c.standby(0).Run({"admin", "standby", "commit-restore"});
  CHECK(refused.code == 1);
  CHECK(std::count(refused.out.begin(), refused.out.end(), '\n') == 1);
  CHECK(refused.out.find("prodtranlog2.dbf is missing") != std::string::npos);
  CHECK(refused.out.find("--accept-gap") != std::string::npos);
  Proc st = Ok(c.standby(0), {"admin", "standby", "restore-status"});
  CHECK(st.out.find("gap              prodtranlog2.dbf is missing") != std::string::npos);
  Proc ok = Ok(c.standby(0), {"admin", "standby", "commit-restore", "--accept-gap"});
  CHECK(ok.out.find("accepts commits") != std::string::npos);
  Ok(c.standby(0), {"put", "standby", "after", "gap"});
}

TEST_CASE("ContinuousRestoreFromALogreceiverConvergesAfterKillNine") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  Workload(c, 200);
  SeedStandby(c);
  std::filesystem::create_directories(c.standby(0).Path("archive"));
  Proc cr = Ok(c.standby(0), {"admin", "standby", "continuous-restore", c.standby(0).Path("archive")});
  CHECK(cr.out.find("Continuous restore of the stone 'standby' started") != std::string::npos);
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  Workload(c, 1000);
  ExpectSameDigest(c);
  // kill -9 of the standby under load, then a restart without -R: restore mode and
  // continuous restore come back by themselves.
  REQUIRE(WaitFor([&] { return c.standby(0).Run({"admin", "standby", "checkpoint"}).code == 0; }));
  pid_t pid = c.standby(0).PidOf("standby.pid");
  REQUIRE(pid > 0);
  Workload(c, 300);
  kill(pid, SIGKILL);
  REQUIRE(WaitFor([&] { return ProcessGone(pid); }));
  Workload(c, 500);
  Ok(c.standby(0), {"stone", "start", "standby"});
  Proc st = Ok(c.standby(0), {"admin", "standby", "restore-status"});
  CHECK(st.out.find("continuous restore") != std::string::npos);
  ExpectSameDigest(c);
  // commit-restore is refused in continuous restore and while the receiver is logged in.
  Proc busy = c.standby(0).Run({"admin", "standby", "commit-restore"});
  CHECK(busy.code == 1);
  CHECK(busy.out.find("stop-continuous-restore") != std::string::npos);
  Ok(c.standby(0), {"admin", "standby", "stop-continuous-restore"});
  // The receiver logs in again after the restart (it retries with backoff).
  REQUIRE(WaitFor([&] {
    auto client = StoneClient::Connect(c.standby(0).Path("run/standby.sock"), "standby");
    if (!client.ok()) return false;
    auto info = (*client)->Info();
    return info.ok() && info->logreceivers == 1;
  }, kConverge));
  busy = c.standby(0).Run({"admin", "standby", "commit-restore"});
  CHECK(busy.code == 1);
  CHECK(busy.out.find("logreceiver is logged in") != std::string::npos);
}

TEST_CASE("PlannedFailoverSuspendCommitsStopsTheStandbyAndCommitRestoreTakesOver") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  Workload(c, 100);
  SeedStandby(c);
  std::filesystem::create_directories(c.standby(0).Path("archive"));
  Ok(c.standby(0), {"admin", "standby", "continuous-restore", c.standby(0).Path("archive")});
  c.StartSender("prod");
  pid_t receiver = c.StartReceiver(0, "standby");
  Workload(c, 500);
  Proc s = Ok(c.primary(), {"admin", "prod", "suspend-commits"});
  CHECK(s.out.find("failover checkpoint at TID") != std::string::npos);
  Proc refused = c.primary().Run({"put", "prod", "x", "y"});
  CHECK(refused.code == 1);
  CHECK(refused.out.find("suspended for failover") != std::string::npos);
  std::string at_failover = Digest(c.primary(), "prod");
  // The standby replays the failover checkpoint and stops by itself.
  std::string st;
  bool stopped = WaitFor([&] {
    st = c.standby(0).Run({"admin", "standby", "restore-status"}).out;
    return st.find("mode             restore mode") != std::string::npos;
  }, kConverge);
  INFO(st);
  REQUIRE(stopped);
  CHECK(st.find("failover checkpoint") != std::string::npos);
  CHECK(Digest(c.standby(0), "standby") == at_failover);
  CHECK(Cluster::Stop(receiver) == 0);
  REQUIRE(WaitFor([&] {
    return c.standby(0).Run({"admin", "standby", "commit-restore"}).code == 0;
  }, kConverge));
  Ok(c.standby(0), {"put", "standby", "after-failover", "1"});
  CHECK(c.standby(0).Run({"get", "standby", "after-failover"}).out == "1\n");
  // The survivors' state is the primary's at the failover checkpoint.
  std::string now = Digest(c.standby(0), "standby");
  CHECK(now != at_failover);
}

}  // namespace
}  // namespace tranship::test
