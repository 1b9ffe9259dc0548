// kill -9 anywhere in a running cluster under load: a primary stone with its logsender,
// two standbys each with a logreceiver (TLS) and a stone in continuous restore, and a
// 4-writer commit load. Each iteration waits a random number of acknowledged commits
// plus a random delay, kills one of the six processes with SIGKILL, and starts it again
// the way an operator (or the watchdog) would. At the end the load stops and the trial
// checks the invariants:
//  - every acknowledged commit is on the primary, whole (`tranship workload --check` over
//    every run's ack log) and on each standby;
//  - each standby's digest equals the primary's at the same TID (nothing applied twice,
//    nothing skipped);
//  - each archive is a byte-identical copy of the tail of the primary's tranlogs;
//  - the sender and receivers stay within a memory bound.
//
// TRANSHIP_CLUSTER_CRASH_ITERATIONS sets the kills (meson `chaos`: 120); the default
// test run samples TRANSHIP_CHAOS_SAMPLE of them; TRANSHIP_SEED replays a run.

#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <thread>

#include "test/shipping/cluster.h"
#include "test/trials/trial.h"

namespace tranship::test {
namespace {

constexpr const char* kVictims[] = {"primary stone", "logsender", "logreceiver 1",
                                    "logreceiver 2", "standby stone 1", "standby stone 2"};

struct Standby {
  std::string stone;
  pid_t receiver = 0;
};

class CrashCluster {
 public:
  CrashCluster() : c_(2) {
    c_.StartStone(c_.primary(), "prod");
    for (int i = 0; i < 2; i++) {
      standbys_[static_cast<size_t>(i)].stone = "standby" + std::to_string(i + 1);
      SeedStandby(c_, i, standbys_[static_cast<size_t>(i)].stone);
    }
    sender_ = c_.StartSender("prod", c_.SenderTls());
    for (int i = 0; i < 2; i++) StartReceiver(i);
  }

  Cluster& c() { return c_; }

  // The current load, started anew (with a new key prefix and ack log) if the last one
  // stopped because its stone was killed.
  const std::string& Load() {
    int st = 0;
    if (load_ == 0 || waitpid(load_, &st, WNOHANG) == load_) {
      runs_++;
      acks_.push_back(c_.Temp("ack-" + std::to_string(runs_)));
      load_ = StartWorkload(c_, acks_.back(), 3600, Prefix(runs_));
    }
    return acks_.back();
  }
  void StopLoad() {
    if (load_ != 0) Cluster::KillNine(load_);
    load_ = 0;
  }

  void Kill(size_t victim) {
    switch (victim) {
      case 0: {  // the primary stone: its writers fail, the sender carries on from disk
        pid_t stone = c_.primary().PidOf("prod.pid");
        REQUIRE(stone > 0);
        kill(stone, SIGKILL);
        REQUIRE(waitpid(load_, nullptr, 0) == load_);
        load_ = 0;
        REQUIRE(WaitFor([&] { return ProcessGone(stone); }, kConverge));
        Ok(c_.primary(), {"stone", "start", "prod"});
        break;
      }
      case 1:
        Cluster::KillNine(sender_);
        sender_ = c_.StartSender("prod", c_.SenderTls());
        break;
      case 2:
      case 3: {
        int i = static_cast<int>(victim - 2);
        Cluster::KillNine(standbys_[static_cast<size_t>(i)].receiver);
        StartReceiver(i);
        break;
      }
      default: {  // a standby stone: it comes back in restore mode, its continuous
                  // restore resumed by itself
        int i = static_cast<int>(victim - 4);
        Host& h = c_.standby(i);
        const std::string& stone = standbys_[static_cast<size_t>(i)].stone;
        pid_t pid = h.PidOf(stone + ".pid");
        REQUIRE(pid > 0);
        kill(pid, SIGKILL);
        REQUIRE(WaitFor([&] { return ProcessGone(pid); }, kConverge));
        Ok(h, {"stone", "start", stone, "-R"});
        break;
      }
    }
  }

  // Waits until both standbys hold the primary's digest, then checks everything.
  void CheckInvariants() {
    std::string primary = Digest(c_.primary(), "prod");
    REQUIRE(!primary.empty());
    for (int i = 0; i < 2; i++) {
      Host& h = c_.standby(i);
      const std::string& stone = standbys_[static_cast<size_t>(i)].stone;
      bool same = WaitFor([&] { return Digest(h, stone) == primary; }, kConverge);
      INFO("standby " << i + 1 << " receiver log:\n" << c_.ReceiverLog(i, stone));
      INFO("primary " << primary << "standby " << i + 1 << " " << Digest(h, stone));
      REQUIRE(same);
      std::string why;
      INFO(why);
      REQUIRE(WaitFor([&] {
        return ArchiveIsTailOf(h.Path("archive"), c_.primary().Path("data/prod/tranlog"), &why);
      }, kConverge));
    }
    for (size_t r = 1; r <= acks_.size(); r++) {
      std::vector<std::string> check = {"workload", "", "--check", acks_[r - 1],
                                        "--keys-per-txn", "2", "--key-prefix", Prefix(r)};
      check[1] = "prod";
      Proc p = c_.primary().Run(check);
      INFO("run " << r << " on the primary: " << p.out);
      REQUIRE(p.code == 0);
      for (int i = 0; i < 2; i++) {
        check[1] = standbys_[static_cast<size_t>(i)].stone;
        Proc s = c_.standby(i).Run(check);
        INFO("run " << r << " on standby " << i + 1 << ": " << s.out);
        REQUIRE(s.code == 0);
      }
    }
  }

  uint64_t Acknowledged() const {
    uint64_t n = 0;
    for (const std::string& a : acks_) n += Acks(a);
    return n;
  }
  std::array<uint64_t, 3> RssKiBs() const {
    return {RssKiB(sender_), RssKiB(standbys_[0].receiver), RssKiB(standbys_[1].receiver)};
  }

 private:
  static std::string Prefix(size_t run) { return "r" + std::to_string(run); }
  void StartReceiver(int i) {
    Standby& s = standbys_[static_cast<size_t>(i)];
    s.receiver = c_.StartReceiver(i, s.stone, c_.ReceiverTls());
  }

  Cluster c_;
  std::array<Standby, 2> standbys_;
  pid_t sender_ = 0;
  pid_t load_ = 0;
  size_t runs_ = 0;
  std::vector<std::string> acks_;
};

TEST_CASE("KillNineOfAnyProcessUnderLoadLosesNoAcknowledgedCommitAndStandbysConverge") {
  uint64_t iterations = TrialIterations("TRANSHIP_CLUSTER_CRASH_ITERATIONS", 6);
  std::mt19937_64 rng = TrialRng("cluster kill -9 trial", iterations);
  CrashCluster cc;
  std::array<uint64_t, 6> kills{};
  uint64_t peak_rss = 0;
  for (uint64_t it = 0; it < iterations; it++) {
    size_t victim = rng() % 6;
    uint64_t wait_acks = rng() % 1500;
    uint64_t extra_us = rng() % 3000;
    std::string what = kVictims[victim];
    INFO("iteration " << it << ": kill -9 of the " << what << " after " << wait_acks
                      << " more acks + " << extra_us << " us");
    std::string ack = cc.Load();
    uint64_t target = Acks(ack) + wait_acks;
    REQUIRE(WaitFor([&] { return Acks(ack) >= target; }, kConverge));
    std::this_thread::sleep_for(std::chrono::microseconds(extra_us));  // a random moment
    cc.Kill(victim);
    kills[victim]++;
    for (uint64_t kib : cc.RssKiBs()) peak_rss = std::max(peak_rss, kib);
  }
  cc.StopLoad();
  cc.CheckInvariants();
  std::string per_kind;
  for (size_t v = 0; v < 6; v++) per_kind += std::string(kVictims[v]) + " " + std::to_string(kills[v]) + ", ";
  MESSAGE("cluster kill -9 trial: " << iterations << " kills (" << per_kind << "), "
                                    << cc.Acknowledged() << " acknowledged commits, 0 lost, "
                                    << "0 divergences; peak sender/receiver RSS "
                                    << peak_rss / 1024 << " MiB");
  // The sender and the receivers keep bounded buffers whatever happens around them.
  CHECK(peak_rss < 256 * 1024);
}

}  // namespace
}  // namespace tranship::test
