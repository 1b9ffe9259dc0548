// The apply rules of restore mode: continue, skip, gap, fork, lineage start, failover
// records; restore mode at run time (startstone -R, a restoring extent); commit-restore;
// suspend-commits / resume-commits.

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/extent.h"
#include "restore/archive.h"
#include "tranlog/reader.h"
#include "test/restore/restore_fixture.h"

namespace tranship::test {
namespace {

// A primary with three files: TIDs 1..(lineage start, 20 commits, log switch, ...).
struct Primary {
  TempDir dir;
  Repo repo{dir / "prod"};
  Opened e;
  Primary() {
    REQUIRE(Engine::Create(repo.Options()).ok());
    e = OpenOrDie(repo.Options());
    CommitN(e.get(), "a", 20);
    REQUIRE(e->StartNewLog().ok());
    CommitN(e.get(), "b", 20);
    REQUIRE(e->StartNewLog().ok());
    CommitN(e.get(), "c", 5);
  }
};

TEST_CASE("ArchiveRestoreContinuesTheHistoryAndSkipsWhatItHas") {
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  CHECK(s->in_restore_mode());
  auto r = s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->find("prefix 'tranlog', found in") != std::string::npos);
  CHECK(r->find("end of the available files") != std::string::npos);
  CHECK(SameDigest(s.get(), p.e.get()));
  RestoreProgress at = s->restore_progress();
  CHECK(at.at.tid == p.e->durable_end().tid);
  CHECK(at.at.chain == p.e->durable_end().chain);
  CHECK(at.at.pos == p.e->durable_end().pos);
  CHECK(at.at.lineage == p.e->durable_end().lineage);  // the lineage-start record switched it
  // Again: nothing new, everything skipped after its chain was checked.
  uint64_t applied = at.applied;
  r = s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0);
  REQUIRE(r.ok());
  CHECK(s->restore_progress().applied == applied);
  // Reads are served, commits refused with what to do.
  CHECK(s->Get("a1").found);
  auto c = s->Commit(PutTxn("x", "y"));
  CHECK(c.status().code() == Status::Code::kBusy);
  CHECK(c.status().message() == "The stone 'standby' is in restore mode; it accepts no commits");
  CHECK(c.status().reason() == std::string_view(kReasonInRestoreMode));
  CHECK(AddStoneHint(c.status(), "standby").message() ==
        "The stone 'standby' is in restore mode; it accepts no commits "
        "until 'tranship admin standby commit-restore'");
}

TEST_CASE("ToEndOfLogStopsAfterThatFile") {
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  CopyTranlogs(p.repo, p.dir / "arch", "prodtranlog");
  auto r = s.restore()->FromArchive({p.dir / "arch"}, std::nullopt, 1);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->find("end of prodtranlog1.dbf") != std::string::npos);
  CHECK(r->find("prefix 'prodtranlog'") != std::string::npos);
  CHECK(s->restore_progress().at.pos == Position{2, tranlog::kFileHeaderSize});
  CHECK_FALSE(s->Get("b1").found);
  CHECK(s->Get("a1").found);
  r = s.restore()->FromArchive({p.dir / "arch"}, std::string("prodtranlog"), 0);
  REQUIRE(r.ok());
  CHECK(SameDigest(s.get(), p.e.get()));
}

TEST_CASE("AMissingFileIsAGapNamedAndCommitRestoreNeedsAcceptGap") {
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  CopyTranlogs(p.repo, p.dir / "arch", "prodtranlog", /*skip=*/2);
  auto r = s.restore()->FromArchive({p.dir / "arch"}, std::nullopt, 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsNotFound());
  CHECK(r.status().message().find("prodtranlog2.dbf is missing") != std::string::npos);
  CHECK(r.status().message().find('\n') == std::string::npos);
  // Nothing after the gap was applied.
  CHECK(s->Get("a1").found);
  CHECK_FALSE(s->Get("c1").found);
  CHECK(s->restore_progress().at.pos == Position{2, tranlog::kFileHeaderSize});
  auto c = s.restore()->CommitRestore(false, 0);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("prodtranlog2.dbf is missing") != std::string::npos);
  CHECK(c.status().reason() == std::string_view(kReasonUnacceptedGap));
  CHECK(AddStoneHint(c.status(), s.target()->repository().stone_name)
            .message()
            .find("--accept-gap") != std::string::npos);
  // The gap is remembered across a restart.
  s.reset();
  s = OpenOrDie(sb.Options());
  CHECK(s.restore()->GetStatus().gap == "prodtranlog2.dbf");
  CHECK_FALSE(s.restore()->CommitRestore(false, 0).ok());
  // A logreceiver logged in is refused first.
  auto lr = s.restore()->CommitRestore(true, 1);
  REQUIRE_FALSE(lr.ok());
  CHECK(lr.status().message().find("A logreceiver is logged in") != std::string::npos);
  auto ok = s.restore()->CommitRestore(true, 0);
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(ok->find("accepting the gap") != std::string::npos);
  CHECK(s->Commit(PutTxn("new", "1")).ok());
}

TEST_CASE("TheMissingFileArrivesAndTheGapCloses") {
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  CopyTranlogs(p.repo, p.dir / "arch", "tranlog", /*skip=*/2);
  CHECK_FALSE(s.restore()->FromArchive({p.dir / "arch"}, std::nullopt, 0).ok());
  CopyTranlogs(p.repo, p.dir / "arch", "tranlog");
  auto r = s.restore()->FromArchive({p.dir / "arch"}, std::nullopt, 0);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(s.restore()->GetStatus().gap.empty());
  CHECK(SameDigest(s.get(), p.e.get()));
}

TEST_CASE("AnotherHistoryIsAForkNamingBothAndNothingIsApplied") {
  // Two primaries that share TIDs 1..21 (a copy) and then diverge.
  Primary p;
  TempDir d2;
  Repo other(d2 / "other");
  p.e.reset();
  std::filesystem::copy(p.repo.root, other.root, std::filesystem::copy_options::recursive);
  p.e = OpenOrDie(p.repo.Options());
  auto o = OpenOrDie(other.Options());
  CommitN(p.e.get(), "p", 3);
  CommitN(o.get(), "o", 3);
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  REQUIRE(s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  RestoredPosition before = s->restore_progress().at;
  Digest dbefore = s->ComputeDigest();
  auto r = s.restore()->FromArchive({other.TranlogDir()}, std::nullopt, 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("fork in time") != std::string::npos);
  CHECK(r.status().message().find("No record of the other history was applied") != std::string::npos);
  CHECK(s->restore_progress().at == before);
  CHECK(s->ComputeDigest().sha256_hex == dbefore.sha256_hex);
  // A primary of another lineage with the same shape: its file 3 holds our last TID
  // with another chain.
  Primary stranger;
  auto r2 = s.restore()->FromArchive({stranger.repo.TranlogDir()}, std::nullopt, 0);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.status().message().find("fork in time") != std::string::npos);
  CHECK(r2.status().message().find(stranger.e->durable_end().lineage.ToHex()) != std::string::npos);
  CHECK(r2.status().message().find(before.lineage.ToHex()) != std::string::npos);
  CHECK(s->restore_progress().at == before);
}

TEST_CASE("StartstoneROnAPrimaryEntersRestoreModeAtItsDurableEnd") {
  Primary p;
  DurableEnd end = p.e->durable_end();
  REQUIRE(p.e->Close().ok());
  p.e.reset();
  EngineOptions o = p.repo.Options();
  o.restore_mode = true;
  auto e = OpenOrDie(o);
  CHECK(e->in_restore_mode());
  RestoreProgress at = e->restore_progress();
  CHECK(at.at.tid == end.tid + 1);  // the clean stop's checkpoint record
  CHECK(e->durable_end().tid == at.at.tid);
  CHECK(e->Get("c1").found);
  CHECK(e->StartNewLog().status().code() == Status::Code::kBusy);
  REQUIRE(e->Close().ok());
  e.reset();
  // Restore mode lasts until commit-restore: the extent says so.
  e = OpenOrDie(p.repo.Options());
  CHECK(e->in_restore_mode());
  CHECK(e->restore_progress().at == at.at);
  CHECK(e->Commit(PutTxn("x", "y")).status().code() == Status::Code::kBusy);
  // restore-from-current-logs over its own files finds nothing new.
  auto r = e.restore()->FromCurrentLogs();
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(e->restore_progress().at == at.at);
}

TEST_CASE("CommitRestoreStartsANewLineageThatDescendsFromTheRestoredHistory") {
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  REQUIRE(s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  RestoredPosition at = s->restore_progress().at;
  auto c = s.restore()->CommitRestore(false, 0);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  CHECK_FALSE(s->in_restore_mode());
  auto t = s->Commit(PutTxn("after", "1"));
  REQUIRE(t.ok());
  // Its own file id is above every archived id; the header continues the history.
  uint64_t id = s->durable_end().pos.file_id;
  CHECK(id > p.e->durable_end().pos.file_id);
  auto r = tranlog::FileReader::Open(Env::Default(), sb.Tranlog(id));
  REQUIRE(r.ok());
  CHECK((*r)->header().first_tid == at.tid + 1);
  CHECK((*r)->header().start_chain == at.chain);
  tranlog::RecordRef rec;
  REQUIRE((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);
  REQUIRE(rec.header.type == tranlog::RecordType::kLineageStart);
  tranlog::LineageStartPayload ls;
  REQUIRE(tranlog::DecodeLineageStart(rec.payload, &ls).ok());
  CHECK(ls.parent == at.lineage);
  CHECK(ls.parent_tid == at.tid);
  CHECK(ls.parent_end == at.pos);
  CHECK(ls.lineage == s->durable_end().lineage);
  // After a restart it is a primary with its commit.
  s.reset();
  s = OpenOrDie(sb.Options());
  CHECK_FALSE(s->in_restore_mode());
  CHECK(s->Get("after").found);
  // A second standby at the same restored position follows the new primary across the
  // lineage start (its first file skips ids: the header proves the continuation).
  Repo sb2(p.dir / "standby2");
  SeedEmpty(sb2);
  auto s2 = OpenOrDie(sb2.Options());
  REQUIRE(s2.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  CHECK(s2->restore_progress().at == at);
  auto r2 = s2.restore()->FromArchive({sb.TranlogDir()}, std::nullopt, 0);
  REQUIRE_MESSAGE(r2.ok(), r2.status().ToString());
  CHECK(s2->restore_progress().at.lineage == s->durable_end().lineage);
  CHECK(SameDigest(s2.get(), s.get()));
}

TEST_CASE("SuspendCommitsWritesAFailoverCheckpointThatSurvivesRestarts") {
  Primary p;
  auto t = p.e->SuspendCommits();
  REQUIRE(t.ok());
  auto c = p.e->Commit(PutTxn("x", "y"));
  CHECK(c.status().code() == Status::Code::kBusy);
  CHECK(c.status().reason() == std::string_view(kReasonCommitsSuspended));
  CHECK(AddStoneHint(c.status(), p.e->options().stone_name).message().find("resume-commits") !=
        std::string::npos);
  CHECK(p.e->SuspendCommits().status().code() == Status::Code::kAlreadyExists);
  DurableEnd at_failover = p.e->durable_end();
  CHECK(at_failover.tid == *t);
  // A suspended primary stays exactly at its failover checkpoint, even through a stop.
  REQUIRE(p.e->Close().ok());
  p.e = OpenOrDie(p.repo.Options());
  CHECK(p.e->stats().commits_suspended);
  CHECK(p.e->durable_end().tid == at_failover.tid);
  CHECK(p.e->Commit(PutTxn("x", "y")).status().code() == Status::Code::kBusy);
  auto r = p.e->ResumeCommits();
  REQUIRE(r.ok());
  CHECK(*r == at_failover.tid + 1);
  CHECK(p.e->Commit(PutTxn("x", "y")).ok());
  CHECK(p.e->ResumeCommits().status().code() == Status::Code::kInvalidArgument);
  p.e.reset();
  p.e = OpenOrDie(p.repo.Options());
  CHECK_FALSE(p.e->stats().commits_suspended);
}

TEST_CASE("TheApplierTracksFailoverAndResumeRecords") {
  Primary p;
  REQUIRE(p.e->SuspendCommits().ok());
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  REQUIRE(s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  CHECK(s->restore_progress().failover_tid == p.e->durable_end().tid);
  // Remembered in the restoring extent.
  s.reset();
  s = OpenOrDie(sb.Options());
  CHECK(s->restore_progress().failover_tid != 0);
  REQUIRE(p.e->ResumeCommits().ok());
  CommitN(p.e.get(), "d", 2);
  REQUIRE(s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  CHECK(s->restore_progress().failover_tid == 0);
  CHECK(SameDigest(s.get(), p.e.get()));
}

TEST_CASE("SuspendOnALargeStateAnswersBeforeTheExtentAndACrashRightAfterStaysSuspended") {
  // Suspend-commits returns once its failover checkpoint record is durable; the extent is
  // written in the background from the frozen state. Resume waits for that write before
  // the state changes again, and a crash before it finishes recovers suspended.
  Primary p;
  CommitN(p.e.get(), "big", 20000);
  REQUIRE(p.e->SuspendCommits().ok());
  REQUIRE(p.e->ResumeCommits().ok());
  REQUIRE(p.e->Commit(PutTxn("big0", "changed")).ok());
  Digest before = p.e->ComputeDigest();
  REQUIRE(p.e->Close().ok());
  p.e.reset();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // kill -9 right after the answer, while the extent write may still run.
    auto e = Engine::Open(p.repo.Options());
    if (!e.ok()) _exit(2);
    auto t = (*e)->SuspendCommits();
    if (!t.ok()) _exit(3);
    uint64_t tid = *t;
    if (write(fds[1], &tid, sizeof(tid)) != sizeof(tid)) _exit(4);
    raise(SIGKILL);  // as kill -9: no exit handler, the extent thread left running
    _exit(5);
  }
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  REQUIRE((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
  uint64_t tid = 0;
  REQUIRE(read(fds[0], &tid, sizeof(tid)) == sizeof(tid));
  close(fds[0]);
  close(fds[1]);
  p.e = OpenOrDie(p.repo.Options());
  CHECK(p.e->stats().commits_suspended);
  CHECK(p.e->durable_end().tid == tid);
  CHECK(p.e->ComputeDigest().sha256_hex == before.sha256_hex);
  CHECK(p.e->Get("big0").value == "changed");
}

TEST_CASE("ACommitRestoreWhoseExtentWasNotWrittenIsCompletedByRecovery") {
  // commit-restore is done once its lineage-start record is durable; its extent is
  // written in the background. Put the restoring extent back after a commit-restore and
  // a commit, as a crash before that write would leave it: recovery completes the
  // commit-restore from the record and replays the commit.
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  auto s = OpenOrDie(sb.Options());
  REQUIRE(s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  s.reset();  // the restoring extent now holds the restored position
  std::string extent = sb.Options().extent_dir + "/" + kExtentFileName;
  std::string restoring = test::ReadAll(extent);
  s = OpenOrDie(sb.Options());
  auto c = s.restore()->CommitRestore(false, 0);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE(s->Commit(PutTxn("after", "1")).ok());
  DurableEnd end = s->durable_end();
  s.reset();
  test::WriteAll(extent, restoring);
  s = OpenOrDie(sb.Options());
  CHECK_FALSE(s->in_restore_mode());
  CHECK(s->durable_end().lineage == end.lineage);
  CHECK(s->Get("after").found);
  CHECK(s->Commit(PutTxn("later", "2")).ok());
  // A standby restored to the same position, whose own tranlogs hold no such file,
  // stays in restore mode.
  Repo sb2(p.dir / "standby2");
  SeedEmpty(sb2);
  auto s2 = OpenOrDie(sb2.Options());
  REQUIRE(s2.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0).ok());
  s2.reset();
  s2 = OpenOrDie(sb2.Options());
  CHECK(s2->in_restore_mode());
}

}  // namespace

namespace {
// A disk on which the restore-source marker cannot be written (say, it is full).
class NoMarkerEnv : public EnvWrapper {
 public:
  NoMarkerEnv() : EnvWrapper(Env::Default()) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override {
    if (path.find(kRestoreSourceMarker) != std::string::npos) {
      return Status::NoSpace("no space left on device");
    }
    return EnvWrapper::NewWritableFile(path, truncate);
  }
};
}  // namespace

// commit-restore numbers the new lineage's files above the archive's from the
// restore-source marker, which must survive a restart: a restore that cannot write it
// fails at once with the reason and applies nothing.
TEST_CASE("ARestoreThatCannotRecordItsSourceFailsAndAppliesNothing") {
  Primary p;
  Repo sb(p.dir / "standby");
  SeedEmpty(sb);
  NoMarkerEnv disk;
  EngineOptions o = sb.Options();
  o.env = &disk;
  auto s = OpenOrDie(o);
  for (int verb = 0; verb < 2; verb++) {
    Result<std::string> r = verb == 0
                                ? s.restore()->FromArchive({p.repo.TranlogDir()}, std::nullopt, 0)
                                : s.restore()->StartContinuous({p.repo.TranlogDir()}, std::nullopt);
    INFO("verb " << verb);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kIOError);
    CHECK(r.status().message().find("cannot record the archive being restored from in " +
                                    sb.root + "/extent/" + kRestoreSourceMarker) !=
          std::string::npos);
    CHECK(r.status().message().find("no space left on device") != std::string::npos);
    CHECK(r.status().message().find("nothing was restored") != std::string::npos);
    CHECK(s->restore_progress().applied == 0);
    CHECK(s->restore_progress().at.tid == 0);
    CHECK_FALSE(Env::Default()->FileExists(sb.root + "/extent/" + kContinuousRestoreMarker));
  }
}

}  // namespace tranship::test
