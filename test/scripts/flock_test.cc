// Two concurrent runs of the same cron job: while the first is inside its locked section
// (held there by a gated stand-in for tranship), the second exits at once with code 75,
// naming the lock and the pid that holds it, and logs that; the first then finishes.

#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

struct Job {
  std::string script;
  std::vector<std::string> args;
  std::string log;   // relative to the home
  std::string lock;  // relative to the home
};

void CheckSecondRunExitsAtOnce(Cluster& c, Host& h, const Job& job, int first_code) {
  CAPTURE(job.script);
  std::string gate = c.Temp("gate-" + std::filesystem::path(job.script).filename().string());
  std::vector<std::string> gated = {"-b", GatedTranship(gate)};
  gated.insert(gated.end(), job.args.begin(), job.args.end());
  pid_t first = SpawnScript(h, job.script, gated, c.Temp("first.out"));
  KillOnExit guard{first};
  REQUIRE(WaitFor([&] { return std::filesystem::exists(gate + "/entered"); },
                  std::chrono::seconds(30)));

  Proc second = RunScript(h, job.script, job.args);
  std::string name = std::filesystem::path(job.script).filename();
  std::string msg = "another run (pid " + std::to_string(first) + ") holds the lock " +
                    h.Path(job.lock) + "; exiting";
  CHECK(second.code == 75);
  CHECK(second.out == name + ": " + msg + "\n");
  CHECK(Contains(ReadAll(h.Path(job.log)), msg));
  // The second did not wait for the first: that one is still at the gate.
  CHECK(waitpid(first, nullptr, WNOHANG) == 0);

  WriteAll(gate + "/open", "");
  int code = WaitExit(first);
  CHECK_MESSAGE(code == first_code, ReadAll(c.Temp("first.out")));
}

TEST_CASE("flock: a second run of watchdog, ship-tranlogs or restore-arrived exits at once") {
  Cluster c(0);
  Host& h = c.primary();
  StartSmallLogStone(h, "prod");
  REQUIRE(Load(h, "prod", BigLoad(120, 10000)).code == 0);  // tranlog 1 complete, 2 open

  CheckSecondRunExitsAtOnce(
      c, h, {"watchdog/watchdog", {"stone", "prod"}, "log/watchdog.log", "run/watchdog-stone-prod.lock"},
      0);
  CheckSecondRunExitsAtOnce(c, h,
                            {"warm-standby/ship-tranlogs",
                             {"-s", "prod", "-a", c.Temp("archive"), "-p", "prodtranlog", "-w", "0"},
                             "log/ship-tranlogs.log", "run/ship-tranlogs-prodtranlog.lock"},
                            0);
  CHECK(std::filesystem::exists(c.Temp("archive/prodtranlog1.dbf")));
  // restore-arrived reaches tranship only to restore: the archive above has a file. The
  // first run's own outcome (prod is no standby) does not matter here.
  Job restore = {"warm-standby/restore-arrived",
                 {"-s", "prod", "-a", c.Temp("archive"), "-p", "prodtranlog"},
                 "log/restore-arrived.log", "run/restore-arrived-prod.lock"};
  CheckSecondRunExitsAtOnce(c, h, restore, 1);
}

}  // namespace
}  // namespace tranship::test
