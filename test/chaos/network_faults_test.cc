// Network-fault trials: a real primary stone, logsender and two standbys (stone in
// continuous restore + logreceiver) over TLS on loopback, each receiver behind its own
// faultproxy (test/tools/faultproxy.cc), under a 4-writer commit load. Each iteration
// draws a fault schedule of one kind from its seed — drops mid-frame, stalls, throttling,
// latency, bit flips, vanished connections, a receiver whose acks never arrive — then
// heals the network and checks the invariants:
//
//   - every archive is byte-identical to the primary's tranlogs (no gap, no duplicate)
//     and `tranship tranlog verify` accepts it: a flipped bit is caught (TLS or CRC) and
//     costs a reconnect, never a bad archive;
//   - each standby's `admin digest` equals the primary's at the same TID;
//   - every acknowledged commit of the iteration is on each standby (workload --check).
//
// TRANSHIP_NET_ITERATIONS sets the iterations per kind (meson: 12 in `chaos`);
// TRANSHIP_CHAOS_SAMPLE caps the iterations of all kinds together for a brief sample
// run (spread over the kinds, at least one each: scripts/test's 5 gives one per kind);
// TRANSHIP_SEED replays a run (the seed of each trial and iteration is printed, and
// each proxy logs its own).

#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "test/shipping/cluster.h"
#include "test/tools/faultproxy_process.h"
#include "test/trials/trial.h"

namespace tranship::test {
namespace {

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The sender and the receivers drop a peer silent for this long (--timeout), so a
// vanished connection is noticed within it (docs/protocol.md, Keepalives and timeouts).
constexpr const char* kTimeoutS = "2";
constexpr int kStandbys = 2;
constexpr const char* kStandbyNames[kStandbys] = {"standby1", "standby2"};

// How many seconds of commit load each iteration runs its fault schedule under.
constexpr int kLoadSeconds = 4;

// A faultproxy child in front of the logsender's port, for one standby's receiver; its
// commands must succeed.
class FaultProxy {
 public:
  FaultProxy(const Cluster& c, int index, uint64_t seed)
      : p_(c.port(), c.Temp("proxy" + std::to_string(index) + ".ctl"),
           c.Temp("proxy" + std::to_string(index) + ".log"), seed) {}
  int port() const { return p_.port(); }
  std::string log() const { return p_.log(); }
  std::string Ctl(const std::string& line) {
    std::string reply = p_.Ctl(line);
    INFO("faultproxy " << line << ": " << reply);
    REQUIRE(reply.starts_with("ok"));
    return reply;
  }
  uint64_t Counter(const std::string& name) { return p_.Counter(name); }
  // Faults injected so far: each flipped bit, cut connection, vanished connection and
  // fault command counts one.
  uint64_t Faults() {
    return p_.Counter("flips") + p_.Counter("drops") + p_.Counter("vanishes") +
           p_.Counter("cuts") + p_.Counter("fault-commands");
  }

 private:
  FaultProxyProcess p_;
};

enum class Kind { kDrop, kStall, kThrottle, kLatency, kFlip, kFlipPlaintext, kVanish, kAckLoss };
constexpr uint64_t kKinds = 8;
const char* ToString(Kind k) {
  switch (k) {
    case Kind::kDrop: return "drop mid-frame";
    case Kind::kStall: return "stall";
    case Kind::kThrottle: return "throttle";
    case Kind::kLatency: return "latency";
    case Kind::kFlip: return "bit flips";
    case Kind::kFlipPlaintext: return "bit flips on a plaintext link";
    case Kind::kVanish: return "vanish";
    case Kind::kAckLoss: return "acks never arrive";
  }
  return "?";
}

// Totals over a trial, printed at its end.
struct Tally {
  uint64_t iterations = 0, faults = 0, connections = 0, acked = 0, lost = 0, divergences = 0;
  uint64_t max_sender_rss_kb = 0;
};

class Trial {
 public:
  Trial(Kind kind, uint64_t seed) : kind_(kind), rng_(seed), c_(kStandbys) {
    c_.StartStone(c_.primary(), "prod");
    for (int i = 0; i < kStandbys; i++) SeedStandby(c_, i, kStandbyNames[i]);
    // Over TLS a flipped bit fails the record's authentication; on a plaintext link the
    // frame decoders and the record CRCs must catch it.
    const bool tls = kind != Kind::kFlipPlaintext;
    std::vector<std::string> none;
    sender_ = c_.StartSender("prod", Concat(tls ? c_.SenderTls() : none, {"--timeout", kTimeoutS}));
    for (int i = 0; i < kStandbys; i++) {
      proxies_.push_back(std::make_unique<FaultProxy>(c_, i, rng_()));
      c_.StartReceiver(i, kStandbyNames[i],
                       Concat(tls ? c_.ReceiverTls() : none, {"-P", std::to_string(proxies_[i]->port()),
                                                 "--timeout", kTimeoutS}));
    }
  }

  void Iteration(uint64_t n) {
    const uint64_t seed = rng_();
    std::mt19937_64 rng(seed);
    MESSAGE(std::string(ToString(kind_)) << " iteration " << n << ": seed " << seed);
    const std::string ack = c_.Temp("ack" + std::to_string(n) + ".log");
    pid_t load = c_.primary().Spawn(
        {"workload", "prod", "--writers", "4", "--transactions", "100000000", "--seconds",
         std::to_string(kLoadSeconds), "--keys-per-txn", "2", "--ack-log", ack, "--key-prefix",
         KeyPrefix(n)},
        c_.Temp("workload.out"));
    REQUIRE(WaitFor([&] { return Acks(ack) >= 20; }, kConverge));
    // Faults start on live links: a receiver still connecting (at the start, or after
    // the previous iteration's faults) would leave the first step nothing to act on.
    for (size_t i = 0; i < proxies_.size(); i++) {
      INFO("receiver log: " << ReceiverLog(i));
      REQUIRE(WaitFor([&] { return Streaming(i); }, kConverge));
    }
    Schedule(rng);
    int st = 0;
    REQUIRE(waitpid(load, &st, 0) == load);
    INFO("workload: " << ReadAll(c_.Temp("workload.out")));
    REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
    for (auto& p : proxies_) p->Ctl("clear");
    Check(ack, n);
  }

  void Report() {
    for (auto& p : proxies_) {
      tally_.faults += p->Faults();
      tally_.connections += p->Counter("connections");
    }
    MESSAGE("trial '" << std::string(ToString(kind_)) << "': " << tally_.iterations << " iterations, "
                      << tally_.faults << " faults injected, " << tally_.connections
                      << " connections through the proxies, " << tally_.acked
                      << " commits acknowledged, " << tally_.lost << " lost, "
                      << tally_.divergences << " divergences, sender VmRSS max "
                      << tally_.max_sender_rss_kb / 1024 << " MiB");
    CHECK(tally_.lost == 0);
    CHECK(tally_.divergences == 0);
    uint64_t injected = 0;
    for (auto& p : proxies_) injected += p->Counter("flips") + p->Counter("drops") + p->Counter("vanishes");
    if (injected > 0) {
      // A cut, a flipped bit (a TLS record that fails its check) or a vanished link each
      // end a connection; the receivers came back through new ones.
      CHECK(tally_.connections > static_cast<uint64_t>(kStandbys));
    }
    if (kind_ == Kind::kVanish) {
      // Neither peer was told: each found out by its own timeout. (The proxy cannot
      // learn that either: the sender's close waits behind the bytes it still has
      // queued for a peer that no longer reads, as over a vanished network.) Each
      // iteration's first step finds both receivers streaming, so something vanished.
      uint64_t vanished = 0;
      for (auto& p : proxies_) vanished += p->Counter("vanishes");
      CHECK(vanished > 0);
      for (size_t i = 0; i < proxies_.size(); i++) {
        if (proxies_[i]->Counter("vanishes") == 0) continue;
        auto noticed = [&] {
          std::string log = ReceiverLog(i);
          return log.find("has been silent for") != std::string::npos ||
                 log.find("has sent no complete frame") != std::string::npos;
        };
        CHECK_MESSAGE(WaitFor(noticed, kConverge), "standby " << i + 1);
      }
      // The sender drops every vanished connection by its timeout, whatever stage the
      // connection was in: a dead session must not keep a receiver slot.
      size_t dropped = 0;
      bool all = WaitFor([&] { return (dropped = SilenceDrops(c_.SenderLog())) >= vanished; },
                         kConverge);
      std::string logs;
      for (auto& p : proxies_) logs += p->log();
      INFO("vanished connections: " << vanished << ", dropped by the sender's timeout: "
                                    << dropped);
      INFO("sender log: " << c_.SenderLog());
      INFO("proxy logs: " << logs);
      CHECK(all);
    }
  }

  // The sender's drops of a connection silent for its timeout: before the listener handed
  // it to a session (its TLS handshake not finished, or nothing sent on a plaintext
  // port: wire/tcp_conn.cc's pre-accept timeout), in the session's TLS handshake, before
  // its Hello, or after it. A vanish a few milliseconds after the connection opened
  // lands in the first stage.
  static size_t SilenceDrops(const std::string& log) {
    size_t n = 0;
    for (const char* what : {"(the timeout)", "sent no Hello within", "did not complete within",
                             "did not complete the TLS handshake within", "sent nothing within"}) {
      for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) n++;
    }
    return n;
  }

  // Receiver i's newest state change (its log's last "logreceiver for 'NAME': A -> B")
  // went to streaming.
  bool Streaming(size_t i) {
    const std::string log = ReceiverLog(i);
    const std::string tag = std::string("logreceiver for '") + kStandbyNames[i] + "': ";
    size_t at = log.rfind(tag);
    if (at == std::string::npos) return false;
    size_t eol = log.find('\n', at);
    return log.substr(at, eol == std::string::npos ? std::string::npos : eol - at)
               .find("-> streaming") != std::string::npos;
  }

  Cluster& cluster() { return c_; }
  // Receiver i's log: named after the port it connects to, its proxy's.
  std::string ReceiverLog(size_t i) {
    return ReadAll(c_.standby(static_cast<int>(i)).Path("log/logreceiver-" + std::to_string(proxies_[i]->port()) +
                                                "-" + kStandbyNames[i] + ".log"));
  }

 private:
  static std::vector<std::string> Concat(std::vector<std::string> a,
                                         const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  }
  // Holds a fault for `ms` while sampling the sender's memory: the schedule's own
  // clock, not a synchronisation.
  void Hold(uint64_t ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      tally_.max_sender_rss_kb = std::max(tally_.max_sender_rss_kb, RssKiB(sender_));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // The fault schedule of one iteration: steps of the trial's kind on a random proxy
  // (or both), each held a random time, filling the load's seconds.
  void Schedule(std::mt19937_64& rng) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kLoadSeconds - 1);
    if (kind_ == Kind::kAckLoss) return AckLoss(rng);
    while (std::chrono::steady_clock::now() < until) {
      size_t which = Uniform(rng, 0, kStandbys);  // kStandbys: both
      auto apply = [&](const std::string& cmd) {
        for (size_t i = 0; i < proxies_.size(); i++) {
          if (which == kStandbys || which == i) proxies_[i]->Ctl(cmd);
        }
      };
      switch (kind_) {
        case Kind::kDrop: {
          // Cut points from inside the first frames to a few batches in: mid-frame and
          // mid-TLS-record, on both the data and the ack direction.
          uint64_t lo = Uniform(rng, 1, 64 << 10);
          apply("drop-after " + std::to_string(lo) + "-" + std::to_string(lo + Uniform(rng, 0, 256 << 10)));
          Hold(Uniform(rng, 100, 1200));
          apply("clear");
          break;
        }
        case Kind::kStall:
          // Some stalls outlast the timeout: the peers drop each other and reconnect.
          apply("stall");
          Hold(Uniform(rng, 100, 3000));
          apply("resume");
          Hold(Uniform(rng, 100, 500));
          break;
        case Kind::kThrottle:
          apply("throttle " + std::to_string(Uniform(rng, 20000, 2000000)));
          Hold(Uniform(rng, 300, 1500));
          break;
        case Kind::kLatency:
          apply("delay " + std::to_string(Uniform(rng, 0, 150)) + " " +
                std::to_string(Uniform(rng, 0, 60)));
          Hold(Uniform(rng, 300, 1500));
          break;
        case Kind::kFlip:
        case Kind::kFlipPlaintext:
          if (rng() % 2) {
            apply("flip " + std::to_string(Uniform(rng, 1, 100) * 1e-7));
          } else {
            apply("flip " + std::to_string(Uniform(rng, 1, 20) * 1e-2) + " chunk");
          }
          Hold(Uniform(rng, 200, 1200));
          apply("clear");
          Hold(Uniform(rng, 100, 600));
          break;
        case Kind::kVanish:
          // The open connections go silent without a FIN: only the keepalive timeout can
          // tell either side. Sometimes the new connection vanishes too.
          apply("vanish");
          Hold(Uniform(rng, 500, 3000));
          break;
        case Kind::kAckLoss:
          break;
      }
    }
  }

  // Standby 2's acks (and keepalives) never reach the sender, for longer than the
  // sender's timeout, while a bulk load ships several times the sender's window of
  // unacknowledged bytes: the sender's memory stays bounded (it drops the silent
  // receiver at its timeout; the receiver comes back and resumes from its archive) and
  // standby 1 keeps streaming meanwhile.
  void AckLoss(std::mt19937_64& rng) {
    const std::string tranlogs = c_.primary().Path("data/prod/tranlog");
    const std::string bulk = c_.Temp("bulk.load");
    if (!std::filesystem::exists(bulk)) {
      // 256 transactions of one 256 KiB value: 64 MiB of records, four windows.
      std::string text;
      std::mt19937_64 r(rng());
      for (int t = 0; t < 256; t++) {
        std::string v(256 << 10, 'a');
        for (char& ch : v) ch = static_cast<char>('a' + r() % 26);
        text += "put bulk/" + std::to_string(t) + " " + v + "\ncommit\n";
      }
      WriteAll(bulk, text);
    }
    const uint64_t rss_before = RssKiB(sender_);
    if (rss_start_kb_ == 0) rss_start_kb_ = rss_before;
    const uint64_t bytes_before = DirBytes(tranlogs);
    proxies_[1]->Ctl("oneway c2s");
    Proc before = c_.standby(0).Run({"admin", kStandbyNames[0], "digest"});
    int rc = -1;
    std::string cmd = "TRANSHIP_HOME=" + c_.primary().root() + " " + std::getenv("TRANSHIP_EXE") +
                      " load prod < " + bulk + " > " + c_.Temp("bulk.out") + " 2>&1";
    std::thread load([&] { rc = std::system(cmd.c_str()); });
    Hold(Uniform(rng, 3000, 4000));
    load.join();
    INFO("load: " << ReadAll(c_.Temp("bulk.out")));
    CHECK(rc == 0);
    const uint64_t shipped = DirBytes(tranlogs) - bytes_before;
    std::string after = Digest(c_.standby(0), kStandbyNames[0]);
    INFO("standby1 digest before: " << before.out << " after: " << after);
    CHECK(after != before.out);  // standby 1 applied more commits meanwhile
    MESSAGE("acks lost: " << shipped / (1 << 20) << " MiB committed meanwhile; sender VmRSS "
                          << rss_before / 1024 << " MiB before, at most "
                          << tally_.max_sender_rss_kb / 1024 << " MiB during");
    CHECK(shipped > 3 * kSenderWindow);
    CHECK(tally_.max_sender_rss_kb < rss_start_kb_ + kMaxRssGrowthKb);
  }
  static uint64_t DirBytes(const std::string& dir) {
    uint64_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir)) n += e.file_size();
    return n;
  }
  // The logsender's window of unacknowledged bytes per receiver (logsender.h). Its
  // memory measured 12 MiB idle and settled at 64 to 74 MiB over 12 ack-loss phases of
  // 64 MiB each (allocator arenas, the frame cache, one window): growing past the
  // bound would mean it keeps what the receiver never acknowledged.
  static constexpr uint64_t kSenderWindow = 16u << 20;
  static constexpr uint64_t kMaxRssGrowthKb = 96u << 10;
  uint64_t rss_start_kb_ = 0;

  // Each iteration's writers use keys of their own, so that --check of one iteration's
  // ack log is not confused by another's transactions.
  static std::string KeyPrefix(uint64_t n) { return "it" + std::to_string(n); }

  void Check(const std::string& ack, uint64_t n) {
    tally_.iterations++;
    const size_t acked = Acks(ack);
    tally_.acked += acked;
    Host& p = c_.primary();
    // At rest (stopped cleanly) the primary's tranlogs are final: each archive must
    // equal them byte for byte.
    Ok(p, {"stone", "stop", "prod"});
    const std::string tranlogs = p.Path("data/prod/tranlog");
    for (int i = 0; i < kStandbys; i++) {
      Host& s = c_.standby(i);
      std::string why;
      bool same = WaitFor([&] { return SameTranlogs(tranlogs, s.Path("archive"), &why); }, kConverge);
      INFO("standby " << i + 1 << ": " << why);
      INFO("receiver log: " << ReceiverLog(static_cast<size_t>(i)));
      INFO("sender log: " << c_.SenderLog());
      CHECK(same);
      Proc v = s.Run({"tranlog", "verify", s.Path("archive")});
      INFO(v.out);
      CHECK(v.code == 0);
      if (!same || v.code != 0) tally_.divergences++;
    }
    Ok(p, {"stone", "start", "prod"});
    const std::string primary = Digest(p, "prod");
    REQUIRE(!primary.empty());
    for (int i = 0; i < kStandbys; i++) {
      Host& s = c_.standby(i);
      std::string got;
      bool equal = WaitFor([&] { return (got = Digest(s, kStandbyNames[i])) == primary; }, kConverge);
      INFO("primary " << primary << "standby " << i + 1 << " " << got);
      CHECK(equal);
      if (!equal) tally_.divergences++;
      Proc check = s.Run({"workload", kStandbyNames[i], "--check", ack, "--keys-per-txn", "2",
                                 "--key-prefix", KeyPrefix(n)});
      INFO(check.out);
      CHECK(check.code == 0);
      if (check.code != 0) tally_.lost++;
    }
  }

  Kind kind_;
  std::mt19937_64 rng_;
  Cluster c_;
  pid_t sender_ = 0;
  std::vector<std::unique_ptr<FaultProxy>> proxies_;
  Tally tally_;
};

void RunTrial(Kind kind) {
  uint64_t iterations = EnvNumber("TRANSHIP_NET_ITERATIONS", 3);
  // A sample run spreads its iterations over the kinds, at least one each.
  if (uint64_t sample = EnvNumber("TRANSHIP_CHAOS_SAMPLE", 0); sample > 0) {
    iterations = std::min(iterations, std::max<uint64_t>(1, sample / kKinds));
  }
  uint64_t seed = EnvNumber("TRANSHIP_SEED", std::random_device()());
  MESSAGE("network faults '" << std::string(ToString(kind)) << "': " << iterations << " iterations, seed "
                             << seed << " (replay with TRANSHIP_SEED=" << seed << ")");
  Trial t(kind, seed);
  for (uint64_t i = 0; i < iterations; i++) t.Iteration(i);
  t.Report();
}

}  // namespace

TEST_CASE("DropsMidFrame") { RunTrial(Kind::kDrop); }
TEST_CASE("Stalls") { RunTrial(Kind::kStall); }
TEST_CASE("Throttling") { RunTrial(Kind::kThrottle); }
TEST_CASE("Latency") { RunTrial(Kind::kLatency); }
TEST_CASE("BitFlipsAreCaughtAndCostOnlyAReconnect") { RunTrial(Kind::kFlip); }
TEST_CASE("BitFlipsOnAPlaintextLinkAreCaught") { RunTrial(Kind::kFlipPlaintext); }
TEST_CASE("VanishedConnectionsAreNoticedByTheTimeout") { RunTrial(Kind::kVanish); }
TEST_CASE("AReceiverWhoseAcksNeverArrive") { RunTrial(Kind::kAckLoss); }

}  // namespace tranship::test
