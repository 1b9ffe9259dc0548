// Followers across a fork and a failover, with real processes (each host a
// TRANSHIP_HOME): the classic fork in time (a standby that followed a history its
// primary abandoned by restoring an older backup is refused and applies nothing), and
// the planned failover's followers (the old primary restarted with -R and a second
// standby follow the new primary without reseeding).

#include <filesystem>

#include "client/client.h"
#include "test/shipping/cluster.h"

namespace tranship::test {
namespace {


void Workload(const Host& h, const std::string& stone, int n) {
  Proc p = h.Run({"workload", stone, "--writers", "4", "--transactions", std::to_string(n),
                  "--keys-per-txn", "3"});
  REQUIRE_MESSAGE(p.code == 0, p.out);
}

// Waits until `stone` on `h` has the digest of `want_stone` on `want`.
void ExpectSameDigest(const Host& want, const std::string& want_stone, const Host& h,
                      const std::string& stone) {
  std::string expected = Digest(want, want_stone);
  REQUIRE_FALSE(expected.empty());
  std::string got;
  bool same = WaitFor([&] { return (got = Digest(h, stone)) == expected; }, kConverge);
  INFO("want: " << expected << "got: " << got);
  INFO("restore-status: " << h.Run({"admin", stone, "restore-status"}).out);
  CHECK(same);
}

// The text after `key` up to the next space, comma or parenthesis.
std::string WordAfter(const std::string& s, const std::string& key) {
  size_t at = s.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  size_t end = s.find_first_of(" ,()", at);
  return s.substr(at, end - at);
}

// A logsender on `h` for `stone`, in the foreground, on `port`.
pid_t StartSenderOn(Cluster& c, Host& h, const std::string& stone, int port,
                    const std::string& dirs, std::vector<pid_t>* children) {
  pid_t p = h.Spawn({"-P", std::to_string(port), "-A", "127.0.0.1", "-T", dirs, "-s", stone,
                     "--foreground", "--timeout", "5"},
                    c.Temp("sender-" + std::to_string(port) + ".out"), "startlogsender");
  children->push_back(p);
  return p;
}

// A logreceiver on `h` for `stone` into `archive`, from the sender on `port`.
pid_t StartReceiverOn(Cluster& c, Host& h, const std::string& stone, int port,
                      const std::string& archive, std::vector<pid_t>* children) {
  std::filesystem::create_directories(archive);
  pid_t p = h.Spawn({"-P", std::to_string(port), "-A", "127.0.0.1", "-T", archive, "-s", stone,
                     "--foreground", "--timeout", "5"},
                    c.Temp("receiver-" + std::to_string(port) + "-" +
                           std::filesystem::path(h.root()).filename().string() + ".out"),
                    "startlogreceiver");
  children->push_back(p);
  return p;
}

std::string ReceiverLog(const Host& h, int port, const std::string& stone) {
  return ReadAll(h.Path("log/logreceiver-" + std::to_string(port) + "-" + stone + ".log"));
}

bool RestoreModeStopped(const Host& h, const std::string& stone) {
  std::string st = h.Run({"admin", stone, "restore-status"}).out;
  return st.find("mode             restore mode") != std::string::npos;
}

struct Children {
  std::vector<pid_t> pids;
  ~Children() {
    for (pid_t p : pids) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }
};

// backup1, work, backup2, work; a standby seeded from backup1 follows through a
// logreceiver; the primary restores backup2, commits the restore and works on. The
// standby, past backup2 on the abandoned history, is refused with both lineages and
// positions named, applies nothing, and nothing hangs.
TEST_CASE("AStandbyThatFollowedTheAbandonedHistoryIsRefusedAndAppliesNothing") {
  Cluster c(1);
  Host& p = c.primary();
  Host& s = c.standby(0);
  c.StartStone(p, "prod");
  Workload(p, "prod", 100);
  Ok(p, {"admin", "prod", "full-backup", c.Temp("backup1")});
  Workload(p, "prod", 200);
  Ok(p, {"admin", "prod", "start-new-log"});
  Workload(p, "prod", 100);
  Proc b2 = Ok(p, {"admin", "prod", "full-backup", c.Temp("backup2")});
  Workload(p, "prod", 200);
  Ok(p, {"admin", "prod", "start-new-log"});
  Workload(p, "prod", 200);

  Ok(s, {"stone", "create", "standby", "--from-backup", c.Temp("backup1")});
  Ok(s, {"stone", "start", "standby"});
  std::filesystem::create_directories(s.Path("archive"));
  Ok(s, {"admin", "standby", "continuous-restore", s.Path("archive")});
  pid_t sender = c.StartSender("prod");
  pid_t receiver = c.StartReceiver(0, "standby");
  ExpectSameDigest(p, "prod", s, "standby");
  // The receiver asked the stone where its state ends: backup1's TID.
  CHECK(c.ReceiverLog(0, "standby").find("the standby stone 'standby' ends at TID") !=
        std::string::npos);
  std::string before = Digest(s, "standby");

  // The fork: backup2 restored and committed on the primary, then new work.
  Ok(p, {"admin", "prod", "restore-from-backup", c.Temp("backup2")});
  Proc cr = Ok(p, {"admin", "prod", "commit-restore"});
  std::string l2 = WordAfter(cr.out, "new lineage ");
  std::string l1 = WordAfter(cr.out, "(parent ");
  REQUIRE(l2.size() == 32);
  REQUIRE(l1.size() == 32);
  Workload(p, "prod", 300);

  std::string log;
  REQUIRE(WaitFor([&] {
    log = c.ReceiverLog(0, "standby");
    return log.find("(fork in time)") != std::string::npos;
  }, kConverge));
  INFO(log);
  size_t at = log.find("fork in time: this standby's archive ends at tranlog ");
  REQUIRE(at != std::string::npos);
  std::string line = log.substr(at, log.find('\n', at) - at);
  INFO(line);
  CHECK(line.find("(lineage " + l1) != std::string::npos);  // the standby's position
  CHECK(line.find("lineage " + l2 + " from TID") != std::string::npos);
  CHECK(line.find("after lineage " + l1 + " up to TID") != std::string::npos);
  CHECK(line.find("Reseed this standby from a new backup of the primary.") != std::string::npos);
  CHECK(log.find("retrying only every 30 s") != std::string::npos);
  CHECK(c.SenderLog().find("refused the logreceiver") != std::string::npos);

  // Nothing of the new lineage was applied, and the standby still answers.
  CHECK(Digest(s, "standby") == before);
  Proc st = Ok(s, {"admin", "standby", "restore-status"});
  CHECK(st.out.find(l2) == std::string::npos);
  // No process hangs: both daemons stop at once, the stones answer.
  CHECK(Cluster::Stop(receiver) == 0);
  CHECK(Cluster::Stop(sender) == 0);
  CHECK(Digest(s, "standby") == before);
  Ok(p, {"put", "prod", "after-fork", "1"});
  (void)b2;
}

// Planned failover to standby1; the old primary restarted with -R (a logreceiver with an
// empty archive) and standby2 (its receiver repointed) follow the new primary.
TEST_CASE("AfterAPlannedFailoverTheOldPrimaryAndTheOtherStandbyFollowTheNewPrimary") {
  Cluster c(2);
  Children kids;
  Host& p = c.primary();
  Host& s1 = c.standby(0);
  Host& s2 = c.standby(1);
  c.StartStone(p, "prod");
  Workload(p, "prod", 100);
  Ok(p, {"admin", "prod", "full-backup", c.Temp("seed")});
  for (Host* h : {&s1, &s2}) {
    Ok(*h, {"stone", "create", "standby", "--from-backup", c.Temp("seed")});
    Ok(*h, {"stone", "start", "standby"});
    std::filesystem::create_directories(h->Path("archive"));
    Ok(*h, {"admin", "standby", "continuous-restore", h->Path("archive")});
  }
  pid_t old_sender = c.StartSender("prod");
  pid_t r1 = c.StartReceiver(0, "standby");
  pid_t r2 = c.StartReceiver(1, "standby");
  Workload(p, "prod", 300);
  Ok(p, {"admin", "prod", "start-new-log"});
  Workload(p, "prod", 200);

  // Planned failover: suspend, both standbys stop at the failover checkpoint.
  Ok(p, {"admin", "prod", "suspend-commits"});
  std::string at_failover = Digest(p, "prod");
  for (Host* h : {&s1, &s2}) {
    REQUIRE(WaitFor([&] { return RestoreModeStopped(*h, "standby"); }, kConverge));
    CHECK(Digest(*h, "standby") == at_failover);
  }
  CHECK(Cluster::Stop(r1) == 0);
  CHECK(Cluster::Stop(r2) == 0);
  CHECK(Cluster::Stop(old_sender) == 0);
  Ok(s1, {"admin", "standby", "commit-restore"});

  // Continuous restore resumes once the new lineage's first file is in each archive
  // (before that, each is caught up at a pending failover checkpoint and would stop).
  auto has_new_file = [](const Host& h) {
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator(h.Path("archive"))) {
      n += e.path().extension() == ".dbf";
    }
    return n;
  };
  int s2_files = has_new_file(s2);
  // The new primary ships its own tranlogs, and its archive (the parent's files).
  int port = FreePort();
  StartSenderOn(c, s1, "standby", port,
                s1.Path("data/standby/tranlog") + "," + s1.Path("archive"), &kids.pids);
  // The old primary, stopped at the failover checkpoint, restarted in restore mode with
  // an empty archive: its receiver starts where its state ends.
  Ok(p, {"stone", "stop", "prod"});
  Ok(p, {"stone", "start", "prod", "-R"});
  StartReceiverOn(c, p, "prod", port, p.Path("archive"), &kids.pids);
  // standby2's receiver, repointed at the new primary, resumes at its archive's end.
  StartReceiverOn(c, s2, "standby", port, s2.Path("archive"), &kids.pids);

  Workload(s1, "standby", 300);
  bool arrived = WaitFor([&] { return has_new_file(p) > 0; }, kConverge) &&
                 WaitFor([&] { return has_new_file(s2) > s2_files; }, kConverge);
  if (!arrived) {
    MESSAGE("standby2's receiver: " << ReceiverLog(s2, port, "standby"));
    MESSAGE("the old primary's receiver: " << ReceiverLog(p, port, "prod"));
    MESSAGE("new primary's sender: "
            << ReadAll(s1.Path("log/logsender-" + std::to_string(port) + ".log")));
  }
  REQUIRE(arrived);
  Ok(p, {"admin", "prod", "continuous-restore", p.Path("archive")});
  Ok(s2, {"admin", "standby", "continuous-restore", s2.Path("archive")});
  ExpectSameDigest(s1, "standby", p, "prod");
  ExpectSameDigest(s1, "standby", s2, "standby");
  CHECK(ReceiverLog(p, port, "prod").find("the standby stone 'prod' ends at TID") !=
        std::string::npos);
  // More work keeps flowing to both.
  Workload(s1, "standby", 200);
  ExpectSameDigest(s1, "standby", p, "prod");
  ExpectSameDigest(s1, "standby", s2, "standby");
}

}  // namespace

// The state's hash from a digest line ("tid T keys K sha256 HASH"), whatever its TID.
std::string Hash(const std::string& digest) { return WordAfter(digest, "sha256 "); }

// restore-snapshot takes the primary back in time while a logsender ships and a standby
// follows: the primary begins a new lineage at the snapshot's TID and says which standby
// must be reseeded. The standby that had records past the snapshot is refused at once
// with a fork in time naming both lineages (never "tranlog gone" first) and applies
// nothing; one still before the snapshot follows the new lineage without a reseed.
TEST_CASE("RestoreSnapshotBeginsANewLineageAndTheStandbyPastItIsToldOfTheFork") {
  Cluster c(2);
  Host& p = c.primary();
  Host& s1 = c.standby(0);
  Host& s2 = c.standby(1);
  c.StartStone(p, "prod");
  Workload(p, "prod", 100);
  SeedStandby(c, 0, "standby1");
  SeedStandby(c, 1, "standby2");
  pid_t sender = c.StartSender("prod");
  pid_t receiver1 = c.StartReceiver(0, "standby1");
  Workload(p, "prod", 100);
  ExpectSameDigest(p, "prod", s1, "standby1");
  Ok(p, {"stone", "snapshot", "prod"});
  const std::string at_snapshot = Digest(p, "prod");
  Workload(p, "prod", 200);
  ExpectSameDigest(p, "prod", s1, "standby1");
  const std::string before = Digest(s1, "standby1");

  Proc r = Ok(p, {"stone", "restore-snapshot", "prod"});
  INFO(r.out);
  std::string l2 = WordAfter(r.out, "begins a new lineage ");
  std::string l1 = WordAfter(r.out, "(parent lineage ");
  REQUIRE(l2.size() == 32);
  REQUIRE(l1.size() == 32);
  CHECK(r.out.find("standby 'standby1' had TID ") != std::string::npos);
  CHECK(r.out.find(": reseed it") != std::string::npos);
  CHECK(r.out.find("must be reseeded from a new backup") != std::string::npos);
  CHECK(Hash(Digest(p, "prod")) == Hash(at_snapshot));  // the snapshot's state
  Workload(p, "prod", 100);

  std::string log;
  REQUIRE(WaitFor([&] {
    log = c.ReceiverLog(0, "standby1");
    return log.find("refused this receiver") != std::string::npos;
  }, kConverge));
  INFO(log);
  size_t at = log.find("refused this receiver");
  std::string first = log.substr(at, log.find('\n', at) - at);
  INFO(first);
  CHECK(first.find("(fork in time)") != std::string::npos);
  CHECK(first.find("lineage " + l2 + " from TID") != std::string::npos);
  CHECK(first.find("after lineage " + l1 + " up to TID") != std::string::npos);
  CHECK(log.find("tranlog gone") == std::string::npos);
  // Nothing of the new lineage was applied (the old lineage's clean-stop checkpoint
  // record may have come after `before`: the state is the same).
  CHECK(Hash(Digest(s1, "standby1")) == Hash(before));
  CHECK(Ok(s1, {"admin", "standby1", "restore-status"}).out.find(l2) == std::string::npos);

  // standby2 is still before the snapshot: it follows the new lineage on.
  pid_t receiver2 = c.StartReceiver(1, "standby2");
  ExpectSameDigest(p, "prod", s2, "standby2");
  CHECK(Cluster::Stop(receiver2) == 0);
  CHECK(Cluster::Stop(receiver1) == 0);
  CHECK(Cluster::Stop(sender) == 0);
}

}  // namespace tranship::test
