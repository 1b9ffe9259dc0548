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

#include "engine/client.h"
#include "engine/tranlog_reader.h"
#include "engine/transaction.h"
#include "test/regex.h"
#include "test/shipping/cluster.h"

namespace tranship::test {
namespace {

std::string Hash(const std::string& digest) { return digest.substr(digest.rfind(' ') + 1); }

// Standby i gets a copy of the stopped primary's repository and starts in restore mode
// (its restored position is the primary's durable end), in continuous restore over the
// archive its logreceiver will fill.
void SeedStandby(Cluster& c, int i, const std::string& name) {
  Host& p = c.primary();
  Host& s = c.standby(i);
  Ok(p, {"stone", "stop", "prod"});
  Ok(s, {"stone", "create", name});
  std::filesystem::remove_all(s.Path("data/" + name));
  std::filesystem::copy(p.Path("data/prod"), s.Path("data/" + name),
                        std::filesystem::copy_options::recursive);
  Ok(p, {"stone", "start", "prod"});
  Ok(s, {"stone", "start", name, "-R"});
  std::filesystem::create_directories(s.Path("archive"));
  Ok(s, {"admin", name, "continuous-restore", s.Path("archive")});
}

std::string Ref(const Host& h, const std::string& stone) { return h.root() + ":" + stone; }

// A workload of 4 writers in the background on the primary until it fails or `seconds`
// pass; returns its pid. Its ack log is `ack`.
pid_t StartWorkload(Cluster& c, const std::string& ack, int seconds) {
  return c.primary().Spawn({"workload", "prod", "--writers", "4", "--transactions", "10000000",
                            "--seconds", std::to_string(seconds), "--keys-per-txn", "2",
                            "--ack-log", ack},
                           c.Temp("workload.out"));
}
size_t Acks(const std::string& ack) {
  size_t n = CountLinesOf(ack);
  return n > 0 ? n - 1 : 0;  // the first line is "writers N"
}

// Each step line: "  TITLE ... 12.3 ms ..." (or "1.23 s").
bool StepDone(const std::string& out, const std::string& title) {
  std::regex re("\n  " + std::regex_replace(title, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                R"( \.\.\. [0-9]+\.[0-9]+ (ms|s)\b)");
  return std::regex_search("\n" + out, re);
}

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST_CASE("PlannedFailoverUnderLoadLosesNothingAndTheOtherStandbyReachesTheCheckpoint") {
  Cluster c(2);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  SeedStandby(c, 1, "standby2");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  c.StartReceiver(1, "standby2");
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
  CHECK(ReadAll(c.Temp("workload.out")).find("suspended for failover") != std::string::npos);

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

// The ack log: writer -> how many of its transactions were acknowledged.
std::map<uint64_t, uint64_t> Acked(const std::string& path) {
  std::map<uint64_t, uint64_t> acked;
  std::istringstream in(ReadAll(path));
  std::string line;
  std::getline(in, line);
  uint64_t w, i;
  while (in >> w >> i) acked[w] = std::max(acked[w], i + 1);
  return acked;
}

TEST_CASE("EmergencyFailoverAfterKillNineUnderLoadKeepsAPrefixAndInventsNothing") {
  Cluster c(1);
  c.StartStone(c.primary(), "prod");
  SeedStandby(c, 0, "standby");
  c.StartSender("prod");
  c.StartReceiver(0, "standby");
  std::string ack = c.Temp("ack.log");
  pid_t load = StartWorkload(c, ack, 120);
  REQUIRE(WaitFor([&] { return Acks(ack) >= 2000; }, kConverge));
  pid_t stone = c.primary().PidOf("prod.pid");
  REQUIRE(stone > 0);
  kill(stone, SIGKILL);
  REQUIRE(waitpid(load, nullptr, 0) == load);

  Proc f = c.standby(0).Run({"failover", "--emergency", "--standby", "standby", "--primary",
                             Ref(c.primary(), "prod"), "--probe-key", "probe"});
  INFO(f.out);
  REQUIRE(f.code == 0);
  for (std::string title : {"check standby", "stop the logreceiver of standby",
                            "stop-continuous-restore on standby", "restore-status of standby",
                            "commit-restore on standby", "probe write on standby"}) {
    CHECK_MESSAGE(StepDone(f.out, title), title);
  }
  std::smatch m;
  REQUIRE(std::regex_search(f.out, m, std::regex("'standby' is the primary: it holds prod's history up to TID ([0-9]+) ")));
  uint64_t restored = std::stoull(m[1]);
  CHECK(f.out.find("tranlog info of prod's last tranlog:\nfile:") != std::string::npos);

  // What the killed primary logged (its tranlogs end at a torn tail at most) and what
  // its writers were told. The invariant: the new primary holds exactly the workload
  // transactions the primary logged at TIDs up to the restored TID, each whole, and
  // nothing else. So (a) every acknowledged transaction logged at or before the restored
  // TID is present, (b) nothing the primary did not log, or logged later, is present
  // (each writer's candidates are its transactions 0..acked+1: it never sent more), and
  // (c) the key count leaves no room for anything else.
  std::vector<uint64_t> all_tids;                                  // every record
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> logged;  // (writer, i) -> TID
  {
    auto set = tranlog::ListTranlogs(Env::Default(), {c.primary().Path("data/prod/tranlog")},
                                     "tranlog");
    REQUIRE(set.ok());
    for (auto& [id, path] : set->files) {
      auto file = tranlog::FileReader::Open(Env::Default(), path);
      REQUIRE(file.ok());
      tranlog::RecordRef rec;
      while ((*file)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
        all_tids.push_back(rec.header.tid);
        if (rec.header.type != tranlog::RecordType::kCommit) continue;
        REQUIRE(DecodeCommitPayload(rec.payload, [&](WriteOp::Kind, std::string_view key,
                                                     std::string_view) {
          unsigned long long w, i, k;
          if (std::sscanf(std::string(key).c_str(), "wl/%llu/%llu/%llu", &w, &i, &k) == 3) {
            logged[{w, i}] = rec.header.tid;
          }
        }).ok());
      }
    }
  }
  std::map<uint64_t, uint64_t> acked = Acked(ack);
  REQUIRE(acked.size() == 4);
  for (auto& [w, a] : acked) {
    for (uint64_t i = 0; i < a; i++) REQUIRE_MESSAGE(logged.count({w, i}), w << " " << i);
  }
  REQUIRE(!all_tids.empty());
  CHECK(restored <= all_tids.back());
  uint64_t left = static_cast<uint64_t>(
      std::count_if(all_tids.begin(), all_tids.end(), [&](uint64_t t) { return t > restored; }));
  CHECK(f.out.find(left == 0 ? std::string("Left behind: nothing")
                             : "Left behind: " + std::to_string(left) + " records") !=
        std::string::npos);

  auto client = StoneClient::Connect(c.standby(0).Path("run/standby.sock"), "standby");
  REQUIRE(client.ok());
  uint64_t expected_txns = 0, present_acked = 0;
  for (auto& [w, a] : acked) {
    for (uint64_t i = 0; i <= a + 1; i++) {
      auto it = logged.find({w, i});
      bool expect = it != logged.end() && it->second <= restored;
      expected_txns += expect;
      for (uint64_t k = 0; k < 2; k++) {
        std::string key = "wl/" + std::to_string(w) + "/" + std::to_string(i) + "/" +
                          std::to_string(k);
        auto got = (*client)->Get(key);
        REQUIRE(got.ok());
        INFO(key << " restored TID " << restored);
        REQUIRE(got->found == expect);
        if (expect) CHECK(got->value == "w" + std::to_string(w) + "t" + std::to_string(i));
      }
      present_acked += expect && i < a;
    }
  }
  CHECK(present_acked > 0);  // the standby had received part of the load
  // 2 keys per transaction, plus the probe key: nothing else exists.
  std::string d = Digest(c.standby(0), "standby");
  CHECK(d.find(" keys " + std::to_string(2 * expected_txns + 1) + " ") != std::string::npos);
  Ok(c.standby(0), {"put", "standby", "after", "emergency"});
}

}  // namespace
}  // namespace tranship::test
