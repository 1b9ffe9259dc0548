#pragma once
// Checks shared by the end-to-end shipping tests (shipping_test.cc, receiver_disk_full_test.cc):
// a commit load on the primary, a clean stop, and archives converged with the primary.

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/shipping/cluster.h"

namespace tranship::test {

inline std::string PrimaryTranlogs(Cluster& c, const std::string& stone) {
  return c.primary().Path("data/" + stone + "/tranlog");
}

// Commits `n` transactions (3 keys each) from 4 writers on the primary stone.
inline void Workload(Cluster& c, const std::string& stone, int n) {
  Proc p = c.primary().Run({"workload", stone, "--writers", "4", "--transactions",
                            std::to_string(n), "--keys-per-txn", "3", "--ack-log",
                            c.Temp("acks-" + std::to_string(rand()))});
  REQUIRE_MESSAGE(p.code == 0, p.out);
}

// Stops the primary stone cleanly (its newest tranlog is trimmed, every record is on
// disk), then waits until standby i's archive equals the primary's tranlogs.
inline void ExpectConverged(Cluster& c, const std::string& stone, const std::vector<int>& standbys) {
  for (int i : standbys) {
    std::string why;
    bool same = WaitFor([&] { return SameTranlogs(PrimaryTranlogs(c, stone), c.standby(i).Path("archive"), &why); },
                        kConverge);
    INFO("standby " << i + 1 << ": " << why);
    INFO("receiver log: " << c.ReceiverLog(i, "standby"));
    INFO("sender log: " << c.SenderLog());
    CHECK(same);
    Proc v = c.standby(i).Run({"tranlog", "verify", c.standby(i).Path("archive")});
    INFO(v.out);
    CHECK(v.code == 0);
  }
}

inline void StopStone(Cluster& c, const std::string& stone) {
  Proc p = c.primary().Run({"stone", "stop", stone});
  REQUIRE_MESSAGE(p.code == 0, p.out);
}

inline bool LogHas(const std::function<std::string()>& log, const std::string& what) {
  return WaitFor([&] { return log().find(what) != std::string::npos; }, std::chrono::seconds(20));
}

}  // namespace tranship::test
