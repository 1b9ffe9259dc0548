// Online full backups of an engine: a backup taken while four threads commit is exactly
// the state at its TID (proved by replaying the tranlogs to that TID, and by restoring
// it into other engines and comparing digests); a full disk during a backup leaves no
// file and the engine keeps committing; restore-from-backup into a running engine.

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "base/env.h"
#include "base/fault_env.h"
#include "restore/backup.h"
#include "restore/backup_format.h"
#include "engine/engine.h"
#include "engine/recovery.h"
#include "restore/apply.h"
#include "tranlog/format.h"
#include "tranlog/reader.h"
#include "test/restore/restore_fixture.h"
#include "test/test_util.h"

namespace tranship {
namespace {

using test::OpenOrDie;
using test::TempDir;

struct Repo {
  TempDir dir;
  EngineOptions Options(Env* env = nullptr) {
    EngineOptions o;
    o.extent_dir = dir / "extent";
    o.tranlog_dirs = {dir / "tranlog"};
    o.checkpoint_interval_s = 0;
    o.tranlog_size_bytes = 256 << 10;  // several files, so the backup may sit at a switch
    o.env = env;
    return o;
  }
};


// Commits from `n` threads until stopped: puts and deletes over a small key space so
// that keys are overwritten and removed while the backup is taken.
class Load {
 public:
  Load(Engine* e, int n) {
    for (int t = 0; t < n; t++) {
      threads_.emplace_back([this, e, t] {
        std::mt19937 rng(t);
        while (!stop_) {
          TxnRequest txn;
          for (int i = 0; i < 3; i++) {
            std::string key = fmt::format("k{:04}", rng() % 500);
            if (rng() % 5 == 0) {
              txn.writes.push_back(WriteOp{WriteOp::Kind::kDelete, key, {}});
            } else {
              txn.writes.push_back(WriteOp{WriteOp::Kind::kPut, key,
                                           fmt::format("t{}-{}", t, rng())});
            }
          }
          if (e->Commit(std::move(txn)).ok()) commits_++;
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  uint64_t commits() const { return commits_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> commits_{0};
  std::vector<std::thread> threads_;
};

struct Replayed {
  StateMap state;
  DurableEnd at;  // position after record `tid`, as the engine reports it
};

// Replays the repository's tranlogs from tranlog 1 up to and including `tid`.
Replayed ReplayTo(const EngineOptions& o, uint64_t tid) {
  Replayed r;
  auto set = tranlog::ListTranlogs(Env::Default(), o.tranlog_dirs, o.tranlog_prefix);
  REQUIRE(set.ok());
  for (const auto& [id, path] : set->files) {
    auto reader = tranlog::FileReader::Open(Env::Default(), path);
    REQUIRE(reader.ok());
    tranlog::RecordRef rec;
    while ((*reader)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
      StateEdit edit(&r.state);
      REQUIRE(ApplyRecord(rec, &edit).ok());
      if (rec.header.type == tranlog::RecordType::kLineageStart) {
        tranlog::LineageStartPayload p;
        REQUIRE(tranlog::DecodeLineageStart(rec.payload, &p).ok());
        r.at.lineage = p.lineage;
      }
      if (rec.header.tid != tid) continue;
      r.at.tid = tid;
      r.at.chain = (*reader)->chain();
      r.at.commit_time_us = rec.header.timestamp_us;
      // After a log switch the writer's position is the start of the next file.
      r.at.pos = rec.header.type == tranlog::RecordType::kLogSwitch
                     ? Position{id + 1, tranlog::kFileHeaderSize}
                     : Position{id, (*reader)->offset()};
      return r;
    }
  }
  FAIL("TID " << tid << " is not in the tranlogs");
  return r;
}

// A digest computed by an engine opened over `state` at `at` in restore mode.
Digest DigestViaEngine(const StateMap& state, const DurableEnd& at) {
  Repo repo;
  REQUIRE(Engine::CreateRestoring(repo.Options(), state, RestoredPosition::From(at), false).ok());
  auto e = OpenOrDie(repo.Options());
  CHECK(e->in_restore_mode());
  return e->ComputeDigest();
}

TEST_CASE("BackupTakenWhileFourThreadsCommitIsTheStateAtItsTid") {
  Repo repo;
  TempDir out;
  REQUIRE(Engine::Create(repo.Options()).ok());
  auto e = OpenOrDie(repo.Options());
  Load load(e.get(), 4);
  REQUIRE(test::WaitFor([&] { return load.commits() > 2000; }, std::chrono::seconds(60)));
  std::string path = out / "b.bak";
  std::vector<BackupProgress> reports;
  auto done = FullBackup(e.target(), "prod", path,
                         [&](const BackupProgress& p) { reports.push_back(p); });
  REQUIRE_MESSAGE(done.ok(), done.status().ToString());
  uint64_t after_backup = load.commits();
  // The stone kept committing while the file was written, and keeps going after it.
  REQUIRE(test::WaitFor([&] { return load.commits() > after_backup + 500; },
                        std::chrono::seconds(60)));
  load.Stop();
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back().keys_done == done->header.keys);

  BackupHeader h;
  StateMap backed_up;
  REQUIRE(ReadBackupFile(Env::Default(), path, &h, &backed_up).ok());
  CHECK(h.tid == done->header.tid);
  CHECK(h.stone_name == "prod");
  CHECK(h.tid < e->durable_end().tid);

  // Exactly the history up to h.tid: same entries (values and versions) and position.
  Replayed r = ReplayTo(repo.Options(), h.tid);
  CHECK(h.lineage == r.at.lineage);
  CHECK(h.position == r.at.pos);
  CHECK(h.chain == r.at.chain);
  CHECK(h.last_commit_us == r.at.commit_time_us);
  REQUIRE(backed_up.size() == r.state.size());
  for (const auto& [k, entry] : r.state) {
    auto it = backed_up.find(k);
    REQUIRE(it != backed_up.end());
    CHECK(it->second.value == entry.value);
    CHECK(it->second.version == entry.version);
  }

  // Restored into an engine, its digest is the digest of the replayed state.
  DurableEnd at{h.lineage, h.position, h.tid, h.chain, h.last_commit_us};
  Digest restored = DigestViaEngine(backed_up, at);
  Digest replayed = DigestViaEngine(r.state, r.at);
  CHECK(restored.tid == h.tid);
  CHECK(restored.keys == h.keys);
  CHECK(restored.sha256_hex == replayed.sha256_hex);
  CHECK(e->Close().ok());
}

TEST_CASE("DiskFullDuringABackupLeavesNoFileAndTheStoneKeepsCommitting") {
  Repo repo;
  TempDir out;
  REQUIRE(Engine::Create(repo.Options()).ok());
  auto e = OpenOrDie(repo.Options());
  for (int i = 0; i < 200; i++) {
    TxnRequest t;
    for (int j = 0; j < 50; j++) {
      t.writes.push_back(WriteOp{WriteOp::Kind::kPut, fmt::format("k{}-{}", i, j),
                                 std::string(1000, 'v')});
    }
    REQUIRE(e->Commit(std::move(t)).ok());
  }
  FaultInjectionEnv full(Env::Default());
  full.SetSpaceLeft(6 << 20);  // the state is about 10 MB: fails after a chunk or so
  std::string path = out / "b.bak";
  {
    Load load(e.get(), 2);  // commits go on while the backup fails
    auto done = FullBackup(e.target(), "prod", path, nullptr, &full);
    REQUIRE_FALSE(done.ok());
    CHECK(done.status().IsNoSpace());
    CHECK(done.status().message().find(path) != std::string::npos);
    CHECK(done.status().message().find('\n') == std::string::npos);
    uint64_t after = load.commits();
    REQUIRE(test::WaitFor([&] { return load.commits() > after + 100; }));
  }
  CHECK_FALSE(Env::Default()->FileExists(path));
  CHECK_FALSE(Env::Default()->FileExists(path + ".partial"));
  auto tid = e->Commit([] {
    TxnRequest t;
    t.writes.push_back(WriteOp{WriteOp::Kind::kPut, "after", "full"});
    return t;
  }());
  CHECK(tid.ok());
  // Once there is room, the same path works.
  auto done = FullBackup(e.target(), "prod", path, nullptr);
  REQUIRE(done.ok());
  CHECK(done->header.tid == e->durable_end().tid);
}

TEST_CASE("BackupRefusesRelativeAndExistingPaths") {
  Repo repo;
  TempDir out;
  REQUIRE(Engine::Create(repo.Options()).ok());
  auto e = OpenOrDie(repo.Options());
  auto rel = FullBackup(e.target(), "prod", "relative.bak", nullptr);
  CHECK(rel.status().code() == Status::Code::kInvalidArgument);
  test::WriteAll(out / "old.bak", "keep me");
  auto existing = FullBackup(e.target(), "prod", out / "old.bak", nullptr);
  CHECK(existing.status().code() == Status::Code::kAlreadyExists);
  CHECK(test::ReadAll(out / "old.bak") == "keep me");
}

TEST_CASE("RestoreFromBackupPutsARunningEngineInRestoreModeAtTheBackupsTid") {
  Repo prod_repo, other_repo;
  TempDir out;
  REQUIRE(Engine::Create(prod_repo.Options()).ok());
  REQUIRE(Engine::Create(other_repo.Options()).ok());
  auto prod = OpenOrDie(prod_repo.Options());
  auto other = OpenOrDie(other_repo.Options());
  for (int i = 0; i < 100; i++) {
    TxnRequest t;
    t.writes.push_back(WriteOp{WriteOp::Kind::kPut, fmt::format("p{}", i), "prod"});
    REQUIRE(prod->Commit(std::move(t)).ok());
    TxnRequest u;
    u.writes.push_back(WriteOp{WriteOp::Kind::kPut, fmt::format("o{}", i), "other"});
    REQUIRE(other->Commit(std::move(u)).ok());
  }
  Digest at_backup = prod->ComputeDigest();
  auto done = FullBackup(prod.target(), "prod", out / "b.bak", nullptr);
  REQUIRE(done.ok());
  CHECK(done->header.tid == at_backup.tid);

  BackupHeader h;
  StateMap state;
  REQUIRE(ReadBackupFile(Env::Default(), out / "b.bak", &h, &state).ok());
  REQUIRE(other->EnterRestoreMode(std::move(state), RestoredPosition{h.lineage, h.position, h.tid,
                                                                     h.chain, h.last_commit_us})
              .ok());
  CHECK(other->in_restore_mode());
  Digest d = other->ComputeDigest();
  CHECK(d.tid == at_backup.tid);
  CHECK(d.sha256_hex == at_backup.sha256_hex);
  CHECK(other->durable_end().pos == h.position);
  CHECK_FALSE(other->Commit([] {
    TxnRequest t;
    t.writes.push_back(WriteOp{WriteOp::Kind::kPut, "x", "y"});
    return t;
  }()).ok());
  // It stays so across a restart.
  REQUIRE(other->Close().ok());
  other.reset();
  auto again = OpenOrDie(other_repo.Options());
  CHECK(again->in_restore_mode());
  CHECK(again->ComputeDigest().sha256_hex == at_backup.sha256_hex);
  CHECK(again->ComputeDigest().tid == at_backup.tid);
}

TEST_CASE("BackupStatusLineShowsKeysPercentAndOneAtATime") {
  BackupTracker t;
  CHECK(t.StatusLine() == "no backup is running; none since the stone started");
  REQUIRE(t.Begin("full-backup /b/prod.bak").ok());
  CHECK(t.StatusLine().starts_with("full-backup /b/prod.bak: starting, "));
  t.Update(BackupProgress{250, 1000, 12'500'000, 0});
  CHECK(t.StatusLine().starts_with("full-backup /b/prod.bak: 250 of 1000 keys (25%), 12.5 MB, "));
  Status second = t.Begin("restore-from-backup /b/x.bak");
  CHECK(second.code() == Status::Code::kBusy);
  CHECK(second.message().find("full-backup /b/prod.bak") != std::string::npos);
  t.End("full-backup of 'prod' at TID 9");
  CHECK(t.StatusLine() == "no backup is running; the last one: full-backup of 'prod' at TID 9");
  REQUIRE(t.Begin("restore-from-backup /b/x.bak").ok());
  t.Update(BackupProgress{1, 4, 100'000, 400'000});
  CHECK(t.StatusLine().starts_with("restore-from-backup /b/x.bak: 1 of 4 keys (25%), 0.1 MB of "
                                   "0.4 MB, "));
}

}  // namespace
}  // namespace tranship
