// A warm standby kept by the scripts alone: a standby seeded from a backup of the primary
// (`admin full-backup`, `stone create --from-backup`, started with -R) is carried forward
// by ship-tranlogs on the primary (1 MB tranlogs) and restore-arrived on the standby,
// across several rounds of commits and a kill -9 of the standby that the watchdog
// repairs (without -R: the extent keeps restore mode); once the primary's files are all
// shipped the two digests are equal. Needs the restore verbs in the stone; until a stone
// knows full-backup and restore-from-archive-logs this binary exits 77 (skipped).

#include <cstdlib>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

// Whether the stone answers `verb` with something else than "unknown admin verb".
bool KnowsVerb(Host& h, const std::string& stone, const std::vector<std::string>& verb) {
  std::vector<std::string> args = {"admin", stone};
  args.insert(args.end(), verb.begin(), verb.end());
  return !Contains(h.Run(args).out, "unknown admin verb");
}

void SkipWithoutRestoreVerbs() {
  bool known = false;
  {
    Cluster c(0);
    c.StartStone(c.primary(), "probe");
    known = KnowsVerb(c.primary(), "probe", {"full-backup", c.Temp("probe.backup")}) &&
            KnowsVerb(c.primary(), "probe",
                      {"restore-from-archive-logs", c.Temp("none"), "--prefix", "x"});
  }
  if (!known) {
    MESSAGE("the stone does not know full-backup / restore-from-archive-logs yet: skipped");
    std::exit(77);
  }
}

std::string Digest(Host& h, const std::string& stone) {
  Proc d = h.Run({"admin", stone, "digest"});
  REQUIRE_MESSAGE(d.code == 0, d.out);
  return d.out;
}

TEST_CASE("warm standby through the scripts: ship-tranlogs + restore-arrived reach the "
          "primary's digest") {
  SkipWithoutRestoreVerbs();
  Cluster c(1);
  Host& p = c.primary();
  Host& s = c.standby(0);
  StartSmallLogStone(p, "prod");
  REQUIRE(Load(p, "prod", BigLoad(50, 10000, "a")).code == 0);
  std::string backup = c.Temp("prod.backup");
  Proc b = p.Run({"admin", "prod", "full-backup", backup});
  REQUIRE_MESSAGE(b.code == 0, b.out);
  Proc seed = s.Run({"stone", "create", "standby", "--from-backup", backup});
  REQUIRE_MESSAGE(seed.code == 0, seed.out);
  Proc start = s.Run({"stone", "start", "standby", "-R"});
  REQUIRE_MESSAGE(start.code == 0, start.out);

  const std::string archive = s.Path("archive");
  const std::vector<std::string> ship = {"-s", "prod", "-a", archive, "-p", "prodtranlog", "-w", "0"};
  const std::vector<std::string> restore = {"-v", "-s", "standby", "-a", archive, "-p", "prodtranlog"};
  const std::string restore_log = s.Path("log/restore-arrived.log");

  for (int round = 0; round < 3; round++) {
    CAPTURE(round);
    REQUIRE(Load(p, "prod", BigLoad(120, 10000, "r" + std::to_string(round) + "-")).code == 0);
    Proc sh = RunScript(p, "warm-standby/ship-tranlogs", ship);
    REQUIRE_MESSAGE(sh.code == 0, sh.out);
    Proc r = RunScript(s, "warm-standby/restore-arrived", restore);
    REQUIRE_MESSAGE(r.code == 0, r.out << ReadAll(restore_log));
    CHECK(Contains(ReadAll(restore_log), "restored: "));
  }
  // Nothing new: the stone is not asked again.
  size_t restores = 0;
  for (size_t at = 0; (at = ReadAll(restore_log).find("restored: ", at)) != std::string::npos; at++) restores++;
  Proc idle = RunScript(s, "warm-standby/restore-arrived", restore);
  REQUIRE(idle.code == 0);
  CHECK(Contains(ReadAll(restore_log), "nothing new in " + archive));
  size_t restores_after = 0;
  for (size_t at = 0; (at = ReadAll(restore_log).find("restored: ", at)) != std::string::npos; at++) restores_after++;
  CHECK(restores_after == restores);

  // kill -9 of the standby: the watchdog, given no -R, brings it back in restore mode
  // (its extent says so), at its restored position.
  KillNineDaemon(s.PidOf("standby.pid"));
  Proc wd = RunScript(s, "watchdog/watchdog", {"stone", "standby"});
  REQUIRE_MESSAGE(wd.code == 0, wd.out);
  auto d = daemon::ReadPidFile(s.Path("run/standby.pid"));
  REQUIRE(d.ok());
  CHECK(d->mode == "restore");
  CHECK(s.Run({"put", "standby", "x", "y"}).code == 1);

  // The primary closes its newest file: now every record it has is in a completed file.
  REQUIRE(p.Run({"admin", "prod", "start-new-log"}).code == 0);
  REQUIRE(RunScript(p, "warm-standby/ship-tranlogs", ship).code == 0);
  Proc last = RunScript(s, "warm-standby/restore-arrived", restore);
  REQUIRE_MESSAGE(last.code == 0, last.out << ReadAll(restore_log));
  CHECK(Digest(s, "standby") == Digest(p, "prod"));
  // Hot-standby reads: a key of the last round is there.
  Proc get = s.Run({"get", "standby", "r2-119"});
  CHECK_MESSAGE(get.code == 0, get.out);
}

}  // namespace
}  // namespace tranship::test
