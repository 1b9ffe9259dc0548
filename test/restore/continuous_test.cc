// Continuous restore against tranlogs a real Engine is writing: growing files with
// preallocated space, log switches, wake-ups, stop semantics, the failover checkpoint,
// and the restart (clean or not) that resumes it from the last checkpoint.

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test/restore/restore_fixture.h"

namespace tranship::test {
namespace {

constexpr auto kConverge = std::chrono::seconds(20);

struct Pair {
  TempDir dir;
  Repo prod{dir / "prod"};
  Repo sb{dir / "standby"};
  Opened p;
  Opened s;
  Pair() {
    REQUIRE(Engine::Create(prod.Options()).ok());
    p = OpenOrDie(prod.Options());
    SeedEmpty(sb);
    s = OpenOrDie(sb.Options());
  }
  void Follow() {
    auto r = s.restore()->StartContinuous({prod.TranlogDir()}, std::nullopt);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  }
  bool CaughtUp() { return s->restore_progress().at.tid == p->durable_end().tid; }
  bool Converged() { return WaitFor([&] { return CaughtUp() && SameDigest(s.get(), p.get()); }, kConverge); }
};

TEST_CASE("FollowsGrowingFilesAcrossLogSwitches") {
  Pair x;
  x.Follow();
  CHECK(x.s.restore()->GetStatus().mode == "continuous restore");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int round = 0; round < 4; round++) {
      CommitN(x.p.get(), "k" + std::to_string(round), 300);
      REQUIRE(x.p->StartNewLog().ok());
    }
    CommitN(x.p.get(), "tail", 50);  // the newest file: records, then preallocated zeros
    done = true;
  });
  // Reads are served while restore applies.
  while (!done) (void)x.s->Get("k01");
  writer.join();
  CHECK(x.Converged());
  CHECK(x.s->restore_progress().at.pos == x.p->durable_end().pos);
  RestoreStatus st = x.s.restore()->GetStatus();
  CHECK(st.continuous);
  CHECK(st.stop_reason.empty());
}

TEST_CASE("ArchiveNotificationsWakeItAndStatusReportsLag") {
  Pair x;
  x.Follow();
  CommitN(x.p.get(), "a", 10);
  x.s.restore()->NotifyArchive(x.p->durable_end());
  CHECK(x.Converged());
  RestoreStatus st = x.s.restore()->GetStatus();
  CHECK(st.lag_known);
  CHECK(st.lag_bytes == 0);
  CHECK(st.archive_end.tid == x.p->durable_end().tid);
  std::string text = FormatRestoreStatus(st, "standby");
  CHECK(text.find("continuous restore") != std::string::npos);
  std::string json = FormatRestoreStatusJson(st, "standby");
  CHECK(json.find("\"mode\":\"continuous restore\"") != std::string::npos);
  CHECK(json.find("\"tid\":" + std::to_string(x.p->durable_end().tid)) != std::string::npos);
}

TEST_CASE("StopFinishesTheCompleteRecordsPresentThenStops") {
  Pair x;
  x.Follow();
  CommitN(x.p.get(), "a", 500);
  REQUIRE(x.p->StartNewLog().ok());
  CommitN(x.p.get(), "b", 500);
  // Everything committed is complete in the files now: stopping applies all of it.
  auto r = x.s.restore()->StopContinuous();
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->find("stopped") != std::string::npos);
  CHECK(x.CaughtUp());
  CHECK(SameDigest(x.s.get(), x.p.get()));
  CHECK(x.s.restore()->GetStatus().mode == "restore mode");
  // No longer running, and not resumed by a restart.
  CommitN(x.p.get(), "c", 5);
  x.s.reset();
  x.s = OpenOrDie(x.sb.Options());
  CHECK_FALSE(x.s.restore()->GetStatus().continuous);
  CHECK_FALSE(x.CaughtUp());
  CHECK(x.s.restore()->StopContinuous().status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("AFailoverCheckpointStopsItAndCommitRestoreTakesOver") {
  Pair x;
  x.Follow();
  CommitN(x.p.get(), "a", 100);
  auto f = x.p->SuspendCommits();
  REQUIRE(f.ok());
  CHECK(WaitFor([&] { return !x.s.restore()->GetStatus().continuous; }, kConverge));
  RestoreStatus st = x.s.restore()->GetStatus();
  CHECK(st.stop_reason.find("failover checkpoint at TID " + std::to_string(*f)) != std::string::npos);
  CHECK(st.progress.at.tid == *f);
  CHECK(st.progress.failover_tid == *f);
  CHECK(SameDigest(x.s.get(), x.p.get()));
  // Started again by an operator, it follows what comes after the checkpoint instead of
  // stopping there again, and commit-restore is refused while it runs.
  auto again = x.s.restore()->StartContinuous({x.prod.TranlogDir()}, std::nullopt);
  REQUIRE(again.ok());
  CHECK(again->find("follows what comes after it") != std::string::npos);
  auto refused = x.s.restore()->CommitRestore(false, 0);
  REQUIRE_FALSE(refused.ok());
  // Restore states the fact and names it; the stone's command layer adds the remedy.
  CHECK(refused.status().reason() == std::string_view(kReasonInContinuousRestore));
  CHECK(refused.status().hint().empty());
  CHECK(AddStoneHint(refused.status(), x.s.target()->repository().stone_name)
            .message()
            .find("stop-continuous-restore") != std::string::npos);
  CHECK(x.s.restore()->GetStatus().continuous);
  REQUIRE(x.s.restore()->StopContinuous().ok());
  CHECK(WaitFor([&] { return !x.s.restore()->GetStatus().continuous; }, kConverge));
  refused = x.s.restore()->CommitRestore(false, 0);
  REQUIRE_MESSAGE(refused.ok(), refused.status().ToString());
  CHECK(x.s->Commit(PutTxn("new-primary", "1")).ok());
  CHECK(x.s->durable_end().tid == *f + 2);  // the lineage start, the commit
}

TEST_CASE("StartedAgainAtAFailoverCheckpointItFollowsWhatComesAfter") {
  Pair x;
  x.Follow();
  CommitN(x.p.get(), "a", 20);
  auto f = x.p->SuspendCommits();
  REQUIRE(f.ok());
  REQUIRE(WaitFor([&] { return !x.s.restore()->GetStatus().continuous; }, kConverge));
  // The operator starts it again before anything follows the checkpoint: it waits.
  REQUIRE(x.s.restore()->StartContinuous({x.prod.TranlogDir()}, std::nullopt).ok());
  x.s.restore()->NotifyArchive(x.p->durable_end());
  CHECK(x.s.restore()->GetStatus().continuous);
  // The primary resumes and commits more: the standby follows.
  REQUIRE(x.p->ResumeCommits().ok());
  CommitN(x.p.get(), "b", 20);
  CHECK(x.Converged());
  CHECK(x.s.restore()->GetStatus().continuous);
  CHECK(SameDigest(x.s.get(), x.p.get()));
}

TEST_CASE("AResumeCommitsAlreadyInTheArchiveKeepsItGoing") {
  Pair x;
  CommitN(x.p.get(), "a", 10);
  REQUIRE(x.p->SuspendCommits().ok());
  REQUIRE(x.p->ResumeCommits().ok());
  CommitN(x.p.get(), "b", 10);
  x.Follow();
  CHECK(x.Converged());
  CHECK(x.s.restore()->GetStatus().continuous);
  CHECK(x.s->restore_progress().failover_tid == 0);
}

TEST_CASE("AGapStopsItAndSaysWhichTranlogIsMissing") {
  Pair x;
  CommitN(x.p.get(), "a", 10);
  REQUIRE(x.p->StartNewLog().ok());
  CommitN(x.p.get(), "b", 10);
  REQUIRE(x.p->StartNewLog().ok());
  CommitN(x.p.get(), "c", 10);
  std::string arch = x.dir / "arch";
  CopyTranlogs(x.prod, arch, "tranlog", /*skip=*/2);
  REQUIRE(x.s.restore()->StartContinuous({arch}, std::nullopt).ok());
  CHECK(WaitFor([&] { return !x.s.restore()->GetStatus().continuous; }, kConverge));
  RestoreStatus st = x.s.restore()->GetStatus();
  CHECK(st.gap == "tranlog2.dbf");
  CHECK(st.stop_reason.find("tranlog2.dbf is missing") != std::string::npos);
  CHECK_FALSE(x.s.restore()->CommitRestore(false, 0).ok());
}

TEST_CASE("ARestartResumesContinuousRestoreFromItsCheckpoint") {
  Pair x;
  x.Follow();
  CommitN(x.p.get(), "a", 200);
  REQUIRE(x.Converged());
  RestoredPosition ckpt = x.s->restore_progress().at;
  REQUIRE(x.s->Checkpoint().ok());
  // The stone dies without a clean stop: kill -9 leaves the extent of the checkpoint.
  x.p.reset();
  x.s.reset();
  pid_t pid = fork();
  if (pid == 0) {
    auto e = Stone::Open(x.sb.Options());
    if (!e.ok()) _exit(2);
    // Resumed by itself; let it apply nothing new, then die.
    _exit((*e)->restore()->GetStatus().continuous ? 0 : 3);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  x.p = OpenOrDie(x.prod.Options());
  CommitN(x.p.get(), "b", 200);
  x.s = OpenOrDie(x.sb.Options());
  CHECK(x.s->restore_progress().at.tid >= ckpt.tid);
  CHECK(x.s.restore()->GetStatus().continuous);
  CHECK(x.Converged());
}

}  // namespace
}  // namespace tranship::test
