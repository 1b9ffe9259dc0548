// The remedies an operator reads: the engine and restore state facts and name the
// situation, the stone adds the command to run (stone/stone.h, AddStoneHint). Each
// sentence is checked whole, as the operator sees it.

#include <doctest/doctest.h>

#include <filesystem>

#include "test/stone/stone_fixture.h"

namespace tranship {
namespace {

using test::StoneFixture;

TEST_CASE("AnUnrecoverableRepositorySaysWhatToDo") {
  test::TempDir dir;
  EngineOptions o;
  o.extent_dir = dir / "extent";
  o.tranlog_dirs = {dir / "tranlog"};
  o.checkpoint_interval_s = 0;
  REQUIRE(Engine::Create(o).ok());
  {
    auto s = Stone::Open(o);
    REQUIRE(s.ok());
    REQUIRE((*s)->engine()->StartNewLog().ok());
    REQUIRE((*s)->engine()->StartNewLog().ok());
    REQUIRE((*s)->Close().ok());
  }
  std::filesystem::remove(dir / "extent/extent0.dbf");
  std::filesystem::remove(dir / "tranlog/tranlog2.dbf");
  auto s = Stone::Open(o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() ==
        "cannot recover: tranlog 2 is missing from the sequence 1..3. "
        "To fix this run 'tranship tranlog verify' on the tranlog directory and restore the "
        "damaged file from a copy, or restore the stone from a backup");
}

TEST_CASE("MoveRefusalsSayWhatToDo") {
  StoneFixture stone;
  // The engine names the stone by its options (the fixture leaves the default name).
  const std::string name = stone.engine()->options().stone_name;
  auto restored = stone.stone()->ApplyRestored([](StateEdit*, RestoreProgress*) {});
  REQUIRE_FALSE(restored.ok());
  CHECK(restored.code() == Status::Code::kBusy);
  CHECK(restored.message() == "The stone '" + name + "' is not in restore mode. To restore "
                              "into it restart it with 'startstone " + name + " -R'");
  CHECK(restored.fact() == "The stone '" + name + "' is not in restore mode");

  auto c = stone.Connect();
  REQUIRE(c->Admin("suspend-commits").ok());
  auto again = c->Admin("suspend-commits");
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message() ==
        "Commits to the stone '" + name + "' are already suspended; to resume them run "
        "'tranship admin " + name + " resume-commits'");
  REQUIRE(c->Admin("resume-commits").ok());

  REQUIRE(stone.engine()
              ->EnterRestoreMode(StateMap(),
                                 RestoredPosition::From(stone.engine()->durable_end()))
              .ok());
  auto log = c->Admin("start-new-log");
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().message() == "The stone '" + name + "' is in restore mode and writes no "
                                  "tranlogs until 'tranship admin " + name + " commit-restore'");
}

TEST_CASE("RestoreRefusalsSayWhatToDo") {
  // Restore states the fact and names the situation; the stone adds the remedy. The
  // sentences the operator reads are the ones restore wrote whole before.
  auto hinted = [](const char* reason, const std::vector<std::string>& dirs = {}) {
    return AddStoneHint(Status::Busy("FACT").WithReason(reason), "s1", dirs).message();
  };
  CHECK(hinted(kReasonInContinuousRestore) ==
        "FACT. To fix this run 'tranship admin s1 stop-continuous-restore' first");
  CHECK(hinted(kReasonAlreadyInContinuousRestore) ==
        "FACT. To change it run 'tranship admin s1 stop-continuous-restore' first");
  CHECK(hinted(kReasonLogreceiverLoggedIn) ==
        "FACT. To fix this stop it first (stoplogreceiver -P PORT -s s1)");
  CHECK(hinted(kReasonUnacceptedGap) ==
        "FACT. To fix this restore the missing tranlog (restore-from-archive-logs), or accept "
        "the loss with 'tranship admin s1 commit-restore --accept-gap'");
  CHECK(hinted(kReasonRestoreStoppedAtGap, {"/a", "/b"}) ==
        "FACT. To fix this copy the missing tranlog into /a /b and run the restore again, or "
        "accept the loss with 'tranship admin s1 commit-restore --accept-gap'");
  CHECK(hinted(kReasonRestoreStoppedAtDamage) ==
        "FACT. To fix this run 'tranship tranlog verify' on the archive and replace the "
        "damaged file with a good copy");
  CHECK(hinted(kReasonNotInRestoreMode) ==
        "FACT. To restore into it restart it with 'startstone s1 -R'");
  CHECK(hinted(kReasonInRestoreMode) == "FACT until 'tranship admin s1 commit-restore'");
  CHECK(hinted(kReasonCommitsSuspended) ==
        "FACT; to accept commits again run 'tranship admin s1 resume-commits'");
  // A fact without a situation passes unchanged.
  CHECK(AddStoneHint(Status::Busy("FACT"), "s1").message() == "FACT");

  // Through the admin verb, as the operator sees it.
  StoneFixture stone;
  const std::string name = stone.engine()->options().stone_name;
  auto c = stone.Connect();
  auto r = c->Admin("restore-from-current-logs");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "The stone '" + name + "' is not in restore mode. To restore "
                                "into it restart it with 'startstone " + name + " -R'");
  // A commit refused over the socket reads with its remedy.
  REQUIRE(c->Admin("suspend-commits").ok());
  auto put = c->Put("k", "v");
  REQUIRE_FALSE(put.ok());
  CHECK(put.status().message() == "Commits to the stone '" + name + "' are suspended for "
                                  "failover; to accept commits again run 'tranship admin " +
                                  name + " resume-commits'");
  REQUIRE(c->Admin("resume-commits").ok());
}

}  // namespace
}  // namespace tranship
