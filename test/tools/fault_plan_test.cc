// faultproxy's control commands: each sets what it names, and a malformed one is refused
// with its usage and changes nothing.

#include <doctest/doctest.h>

#include "test/tools/fault_plan.h"

namespace tranship::faultproxy {
namespace {

Action Ok(const char* line, Faults* f) {
  Result<Action> a = ApplyCommand(line, f);
  INFO(line << ": " << (a.ok() ? "" : a.status().ToString()));
  REQUIRE(a.ok());
  return *a;
}

}  // namespace

TEST_CASE("EachCommandSetsItsFault") {
  Faults f;
  CHECK((Ok("delay 20 5", &f) == Action::kNone));
  CHECK(f.delay_ms == 20);
  CHECK(f.jitter_ms == 5);
  Ok("delay 7", &f);
  CHECK(f.jitter_ms == 0);
  Ok("throttle 1000000", &f);
  CHECK(f.throttle_bps == 1000000);
  CHECK((Ok("drop-after 1000-200000", &f) == Action::kDropAfter));
  CHECK(f.drop_lo == 1000);
  CHECK(f.drop_hi == 200000);
  Ok("drop-after 64", &f);
  CHECK(f.drop_lo == 64);
  CHECK(f.drop_hi == 64);
  Ok("stall", &f);
  CHECK(f.stall);
  Ok("resume", &f);
  CHECK(!f.stall);
  Ok("flip 1e-6", &f);
  CHECK(f.flip_p == doctest::Approx(1e-6));
  CHECK(!f.flip_per_chunk);
  Ok("flip 0.5 chunk", &f);
  CHECK(f.flip_per_chunk);
  Ok("oneway c2s", &f);
  CHECK(f.discard_c2s);
  CHECK(!f.discard_s2c);
  Ok("oneway s2c", &f);
  CHECK(!f.discard_c2s);
  CHECK(f.discard_s2c);
  CHECK(f.any());
  CHECK(Describe(f).find("delay 7+0 ms") != std::string::npos);
  Ok("clear", &f);
  CHECK(!f.any());
  CHECK(Describe(f) == "none");
  CHECK((Ok("vanish", &f) == Action::kVanish));
  CHECK((Ok("cut", &f) == Action::kCut));
  CHECK((Ok("status", &f) == Action::kStatus));
  CHECK(!f.any());
}

TEST_CASE("MalformedCommandsAreRefusedAndChangeNothing") {
  Faults f;
  Ok("delay 5 1", &f);
  for (const char* bad : {"", "delay", "delay x", "delay -1", "delay 1 2 3", "throttle",
                          "drop-after 0", "drop-after 10-5", "drop-after 5-", "flip 2",
                          "flip -0.1", "flip 0.1 word", "oneway both", "stall now", "explode"}) {
    Faults before = f;
    Result<Action> a = ApplyCommand(bad, &f);
    INFO("'" << bad << "'");
    CHECK(!a.ok());
    CHECK(!a.status().message().empty());
    CHECK(f.delay_ms == before.delay_ms);
    CHECK(f.jitter_ms == before.jitter_ms);
    CHECK(f.drop_hi == before.drop_hi);
    CHECK(f.flip_p == before.flip_p);
  }
}

}  // namespace tranship::faultproxy
