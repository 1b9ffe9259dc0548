// Soak: five logreceivers over TLS behind one logsender under a steady commit load for
// TRANSHIP_SOAK_SECONDS (meson `chaos`: 600; the default test run samples a short one).
// Every interval it records the sender's and the receivers' resident memory and the
// receivers' lag from `tranship status --json`, and prints the series at the end. It
// checks that memory stays within what the design allows (the sender's frame cache, at
// most 32 MiB, plus 16 MiB) and, in a run long enough for that cache to fill (a minute:
// ~30 s at this load), that it stays flat (the second half adds at most 8 MiB to the
// first half's peak); that the lag stays bounded; and that the five archives are
// byte-identical to the primary's tranlogs at the end.

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "base/json_parse.h"
#include "test/shipping/cluster.h"
#include "test/trials/trial.h"

namespace tranship::test {
namespace {

constexpr int kReceivers = 5;

struct Sample {
  double at_s = 0;
  uint64_t sender_kib = 0;
  uint64_t receiver_kib = 0;  // the largest of the five
  uint64_t lag_bytes = 0;     // the largest of the five
  double lag_s = 0;
  uint64_t acks = 0;
  int lag_entries = 0;        // receivers whose lag the status listed
};

// The largest lag_bytes / lag_seconds of any receiver in `tranship status --json`;
// returns how many receivers (and receiver daemons) the status listed.
int Lag(const std::string& json, uint64_t* bytes, double* seconds) {
  auto v = tranship::ParseJson(json);
  if (!v.ok()) return 0;
  int seen = 0;
  std::function<void(const tranship::JsonValue&)> walk = [&](const tranship::JsonValue& j) {
    if (j.kind == tranship::JsonValue::Kind::kObject) {
      if (j.Get("lag_bytes") != nullptr) {
        seen++;
        *bytes = std::max<uint64_t>(*bytes, j.Uint("lag_bytes"));
        *seconds = std::max(*seconds, j.Num("lag_seconds").value_or(0));
      }
      for (auto& [k, m] : j.members) walk(m);
    } else if (j.kind == tranship::JsonValue::Kind::kArray) {
      for (auto& m : j.items) walk(m);
    }
  };
  walk(*v);
  return seen;
}

TEST_CASE("FiveReceiversUnderSteadyLoadKeepMemoryFlatAndLagBounded") {
  uint64_t seconds = EnvNumber("TRANSHIP_SOAK_SECONDS", 20);
  if (uint64_t sample = EnvNumber("TRANSHIP_CHAOS_SAMPLE", 0); sample != 0) {
    seconds = std::min<uint64_t>(seconds, 3 * sample);
  }
  const auto interval = std::chrono::seconds(seconds >= 120 ? 10 : 1);
  Cluster c(kReceivers);
  c.receivers_from_start = true;
  c.StartStone(c.primary(), "prod");
  pid_t sender = c.StartSender("prod", c.SenderTls());
  std::vector<pid_t> receivers;
  for (int i = 0; i < kReceivers; i++) {
    receivers.push_back(c.StartReceiver(i, "prod", c.ReceiverTls()));
  }
  // The load starts once the sender lists all five receivers.
  REQUIRE(WaitFor([&] {
    uint64_t b = 0;
    double sec = 0;
    return Lag(c.primary().Run({"status", "--json"}).out, &b, &sec) >= kReceivers;
  }, kConverge));
  std::string ack = c.Temp("ack");
  pid_t load = c.primary().Spawn({"workload", "prod", "--writers", "4", "--seconds",
                                  std::to_string(seconds), "--keys-per-txn", "2", "--ack-log", ack},
                                 c.Temp("workload.out"));
  std::vector<Sample> samples;
  auto start = std::chrono::steady_clock::now();
  auto next = start;
  int st = 0;
  while (waitpid(load, &st, WNOHANG) == 0) {
    next += interval;
    std::this_thread::sleep_until(next);  // the sampling period, not a synchronisation
    Sample s;
    s.at_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    s.sender_kib = RssKiB(sender);
    for (pid_t r : receivers) s.receiver_kib = std::max(s.receiver_kib, RssKiB(r));
    Proc status = c.primary().Run({"status", "--json"});
    s.lag_entries = Lag(status.out, &s.lag_bytes, &s.lag_s);
    s.acks = Acks(ack);
    samples.push_back(s);
  }
  INFO(ReadAll(c.Temp("workload.out")));
  REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  REQUIRE(samples.size() >= 2);

  std::string table = "  t(s)   sender RSS   receiver RSS (max)   lag bytes (max)   lag s (max)   acked\n";
  for (const Sample& s : samples) {
    char line[160];
    std::snprintf(line, sizeof(line), "  %5.0f   %7.1f MiB   %7.1f MiB          %12llu   %11.3f   %llu\n",
                  s.at_s, static_cast<double>(s.sender_kib) / 1024,
                  static_cast<double>(s.receiver_kib) / 1024,
                  static_cast<unsigned long long>(s.lag_bytes), s.lag_s,
                  static_cast<unsigned long long>(s.acks));
    table += line;
  }
  MESSAGE("soak: " << kReceivers << " receivers over TLS, " << seconds << " s, "
                   << Acks(ack) << " acknowledged commits\n" << table);

  // Memory is bounded: above the first sample, the sender holds at most its frame cache
  // (32 MiB, LogSenderOptions::cache_bytes) and 16 MiB more; a receiver 16 MiB.
  for (const Sample& s : samples) {
    CHECK(s.sender_kib <= samples[0].sender_kib + (32 + 16) * 1024 * kRssBoundScale);
    CHECK(s.receiver_kib <= samples[0].receiver_kib + 16 * 1024 * kRssBoundScale);
  }
  // And flat once the cache has filled (~30 s at this load; a shorter sample run sees
  // only the filling): the second half adds at most 8 MiB to the first half's peak.
  if (seconds >= 60) {
    size_t half = samples.size() / 2;
    auto peak = [&](size_t from, size_t to, uint64_t Sample::*field) {
      uint64_t m = 0;
      for (size_t i = from; i < to; i++) m = std::max(m, samples[i].*field);
      return m;
    };
    for (auto field : {&Sample::sender_kib, &Sample::receiver_kib}) {
      uint64_t first = peak(0, std::max<size_t>(half, 1), field);
      uint64_t second = peak(half, samples.size(), field);
      CHECK(second <= first + 8 * 1024 * kRssBoundScale);
    }
  }
  // Lag stays bounded: never more than 64 MiB of tranlog behind.
  // (each sample saw the five receivers at least from the sender's side).
  for (const Sample& s : samples) {
    CHECK(s.lag_entries >= kReceivers);
    CHECK(s.lag_bytes < (64ull << 20));
  }

  Ok(c.primary(), {"stone", "stop", "prod"});
  for (int i = 0; i < kReceivers; i++) {
    std::string why;
    INFO("receiver " << i << ": " << why);
    CHECK(WaitFor([&] {
      return SameTranlogs(c.primary().Path("data/prod/tranlog"), c.standby(i).Path("archive"), &why);
    }, kConverge));
  }
}

}  // namespace
}  // namespace tranship::test
