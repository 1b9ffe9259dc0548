#pragma once
// What the randomized trials share: how many iterations to run (a kind's own variable,
// capped by TRANSHIP_CHAOS_SAMPLE for the brief sample of the default test run), the
// seed (printed; TRANSHIP_SEED replays a run), and the resident memory of a process.

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "test/test_util.h"

namespace tranship::test {

inline uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Iterations of one trial kind: $var (or `fallback`), at most TRANSHIP_CHAOS_SAMPLE /
// `sample_divisor` (at least 1) when a sample run is asked for.
inline uint64_t TrialIterations(const char* var, uint64_t fallback, uint64_t sample_divisor = 1) {
  uint64_t n = EnvNumber(var, fallback);
  if (uint64_t sample = EnvNumber("TRANSHIP_CHAOS_SAMPLE", 0); sample != 0) {
    n = std::min(n, std::max<uint64_t>(1, sample / sample_divisor));
  }
  return n;
}

// The run's random generator, its seed printed so that a failure can be replayed.
inline std::mt19937_64 TrialRng(const std::string& kind, uint64_t iterations) {
  uint64_t seed = EnvNumber("TRANSHIP_SEED", std::random_device{}());
  MESSAGE(kind << ": seed " << seed << " (TRANSHIP_SEED=" << seed << " replays), "
               << iterations << " iterations");
  return std::mt19937_64(seed);
}

// VmRSS of `pid` in KiB, 0 if it is gone.
inline uint64_t RssKiB(pid_t pid) {
  std::string status = ReadAll("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::strtoull(status.c_str() + at + 6, nullptr, 10);
}

}  // namespace tranship::test
