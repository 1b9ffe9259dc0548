// LogLimiter: a burst per window, then silence, then one line that counts what was held.

#include <doctest/doctest.h>

#include "base/log_limiter.h"

namespace tranship {
namespace {

TEST_CASE("ABurstPerWindowThenTheNextLineCountsWhatWasHeldBack") {
  LogLimiter l(3, 10'000);
  std::string note;
  for (int i = 0; i < 3; i++) {
    CHECK(l.Allow(100 + i, &note));
    CHECK(note.empty());
  }
  for (int i = 0; i < 500; i++) CHECK_FALSE(l.Allow(200 + i, &note));
  CHECK(l.Allow(10'100, &note));
  CHECK(note.find("500 more not logged") != std::string::npos);
  CHECK(l.Allow(10'101, &note));
  CHECK(note.empty());
}

TEST_CASE("AQuietStreamIsNeverHeldBack") {
  LogLimiter l(2, 1'000);
  std::string note;
  for (uint64_t t = 0; t < 100'000; t += 600) {
    CHECK(l.Allow(t, &note));
    CHECK(note.empty());
  }
}

}  // namespace
}  // namespace tranship
