// Emergency failover at a random moment: kill -9 of the primary under a 4-writer load
// after a random number of acknowledged commits (from none to thousands) plus a random
// delay, then `tranship failover --emergency` on its standby. Each iteration checks the
// invariant of test/failover/emergency_trial.h: the new primary holds a prefix of what the
// killed primary logged — whole transactions, every acknowledged one up to the restored
// TID — and nothing else.
//
// TRANSHIP_EMERGENCY_ITERATIONS sets the iterations (meson `chaos`: 200); the default test
// run samples a few; TRANSHIP_SEED replays a run.

#include "test/failover/emergency_trial.h"
#include "test/trials/trial.h"

namespace tranship::test {
namespace {

TEST_CASE("EmergencyFailoverAtARandomMomentKeepsAPrefixOfTheAcknowledgedCommits") {
  uint64_t iterations = TrialIterations("TRANSHIP_EMERGENCY_ITERATIONS", 3);
  std::mt19937_64 rng = TrialRng("emergency failover trial", iterations);
  uint64_t acknowledged = 0, present = 0, left_behind = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    // Half the kills come early (before or while the receiver catches up), half later.
    uint64_t acks = rng() % 2 == 0 ? rng() % 200 : rng() % 4000;
    uint64_t extra_us = rng() % 3000;
    INFO("iteration " << i << ": kill -9 of the primary after " << acks << " acks + "
                      << extra_us << " us");
    EmergencyOutcome out = EmergencyFailoverTrial(acks, extra_us);
    acknowledged += out.acknowledged;
    present += out.present_acked;
    left_behind += out.left_behind;
  }
  MESSAGE("emergency failover trial: " << iterations << " failovers, " << acknowledged
                                       << " acknowledged commits, " << present
                                       << " of them on the new primaries, " << left_behind
                                       << " records left behind on the killed primaries; "
                                       << "0 invented, 0 half-applied");
}

}  // namespace
}  // namespace tranship::test
