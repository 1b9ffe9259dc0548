// kill -9 of a stone under concurrent commits: every acknowledged commit survives and no
// transaction is half-applied.
//
// Each iteration creates a stone, starts `tranship workload` (4 writers, 3 keys per
// transaction, an ack log), kills the stone with SIGKILL after a random number of
// acknowledged commits (sometimes after a checkpoint or a tranlog switch under load),
// starts it again, and runs `tranship workload --check`, which reads every acknowledged
// transaction back (see workload/workload.h).
//
// TRANSHIP_CRASH_ITERATIONS sets the number of iterations (meson: 3 in `integration`,
// 200 in `chaos`); TRANSHIP_CHAOS_SAMPLE caps it for a brief sample run;
// TRANSHIP_SEED replays a run (the seed is printed).

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include <doctest/doctest.h>

#include "test/cli/cli_harness.h"

namespace tranship::test {
namespace {

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

void CrashOnce(CliHarness& h, std::mt19937_64& rng, int iteration) {
  const std::string name = "crash" + std::to_string(iteration);
  const std::string acks = h.TempPath(name + ".acks");
  const std::string out = h.TempPath(name + ".out");
  REQUIRE(h.Run({"stone", "create", name}).code == 0);
  REQUIRE(h.RunAlias("startstone", {name}).code == 0);
  pid_t stone = h.StonePid(name);
  REQUIRE(stone > 0);

  // Kill after 0..300 acknowledged commits, plus up to 3 ms, so the kill lands at any
  // point of the commit path, including before the first commit and mid-batch.
  uint64_t target = rng() % 301;
  uint64_t extra_us = rng() % 3000;
  INFO("iteration " << iteration << ": kill after " << target << " acks + " << extra_us << " us");
  pid_t workload = h.Spawn({"workload", name, "--writers", "4", "--transactions", "100000000",
                            "--keys-per-txn", "3", "--ack-log", acks},
                           out);
  auto acked_at_least = [&](uint64_t n) {
    return WaitFor([&] { return CountLines(ReadAll(acks)) >= n + 1; }, std::chrono::seconds(60));
  };
  INFO("workload output: " << ReadAll(out));
  // Halfway, sometimes checkpoint or switch tranlogs under load, so that recovery also
  // starts from an extent or replays across files.
  const char* verbs[] = {nullptr, "checkpoint", "start-new-log"};
  const char* verb = verbs[rng() % 3];
  REQUIRE(acked_at_least(target / 2));
  if (verb != nullptr) REQUIRE(h.Run({"admin", name, verb}).code == 0);
  INFO("admin verb halfway: " << (verb ? verb : "none"));
  REQUIRE(acked_at_least(target));
  usleep(static_cast<useconds_t>(extra_us));
  REQUIRE(kill(stone, SIGKILL) == 0);
  REQUIRE(WaitFor([&] { return ProcessGone(stone); }));

  // The writers lose their connections and stop with an error; none may hang.
  CHECK(CliHarness::Wait(workload) == 1);
  CHECK(ReadAll(out).find("stopped early") != std::string::npos);

  RunResult restart = h.RunAlias("startstone", {name});
  INFO("restart: " << restart.out << restart.err);
  REQUIRE(restart.code == 0);
  RunResult check = h.Run({"workload", name, "--check", acks, "--keys-per-txn", "3"});
  INFO("check: " << check.out << check.err);
  CHECK(check.code == 0);
  CHECK(check.out.find("none half-applied") != std::string::npos);
  size_t acked = CountLines(ReadAll(acks)) - 1;
  CHECK(acked >= target);
  MESSAGE("iteration " << iteration << ": killed after " << acked << " acknowledged commits; "
                       << check.out);
  RunResult verify = h.Run({"tranlog", "verify", h.Path("data/" + name + "/tranlog")});
  INFO("verify: " << verify.out << verify.err);
  CHECK(verify.code == 0);

  REQUIRE(h.Run({"stone", "stop", name}).code == 0);
  REQUIRE(h.Run({"stone", "destroy", name}).code == 0);
}

}  // namespace

TEST_CASE("AcknowledgedCommitsSurviveKill9") {
  uint64_t iterations = EnvNumber("TRANSHIP_CRASH_ITERATIONS", 3);
  iterations = std::min(iterations, EnvNumber("TRANSHIP_CHAOS_SAMPLE", iterations));
  uint64_t seed = EnvNumber("TRANSHIP_SEED", std::random_device()());
  MESSAGE("crash test: " << iterations << " iterations, seed " << seed
                         << " (replay with TRANSHIP_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  CliHarness h;
  for (uint64_t i = 0; i < iterations; i++) {
    CrashOnce(h, rng, static_cast<int>(i));
  }
}

}  // namespace tranship::test
