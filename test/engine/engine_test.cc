// Engine scenarios: durable group commit, optimistic conflicts, checkpoint and crash
// recovery (a forked child that dies without a clean stop), disk full, the lock.

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "base/env.h"
#include "base/fault_env.h"
#include "engine/engine.h"
#include "tranlog/format.h"
#include "tranlog/reader.h"
#include "test/test_util.h"

namespace tranship {
namespace {

using test::TempDir;
using tranlog::VerifyReport;

struct Repo {
  TempDir dir;
  EngineOptions Options(Env* env = nullptr) {
    EngineOptions o;
    o.extent_dir = dir / "extent";
    o.tranlog_dirs = {dir / "tranlog"};
    o.checkpoint_interval_s = 0;
    o.env = env;
    return o;
  }
  std::string Tranlog(uint64_t id) { return dir / ("tranlog/" + tranlog::FileName("tranlog", id)); }
};

TxnRequest PutTxn(const std::string& k, const std::string& v) {
  TxnRequest t;
  t.writes.push_back(WriteOp{WriteOp::Kind::kPut, k, v});
  return t;
}

std::unique_ptr<Engine> OpenOrDie(const EngineOptions& o) {
  auto e = Engine::Open(o);
  if (!e.ok()) FAIL(e.status().ToString());
  return std::move(*e);
}

// Runs `fn` in a forked child that then exits without any clean stop, as kill -9 would
// leave it: `fn` must end with _exit() while its engine is still open, so that no
// destructor runs a clean stop. Returns the child's exit status.
int RunAndCrash(const std::function<void()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("CommitThenReadAndReopen") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  std::string digest;
  {
    auto e = OpenOrDie(r.Options());
    auto t1 = e->Commit(PutTxn("a", "1"));
    REQUIRE(t1.ok());
    CHECK(*t1 == 2);  // TID 1 is the lineage start
    REQUIRE(e->Commit(PutTxn("b", "2")).ok());
    TxnRequest del;
    del.writes.push_back(WriteOp{WriteOp::Kind::kDelete, "a", ""});
    REQUIRE(e->Commit(del).ok());
    CHECK_FALSE(e->Get("a").found);
    CHECK(e->Get("b").value == "2");
    CHECK(e->Get("b").version == 3);
    digest = e->ComputeDigest().sha256_hex;
    CHECK(e->durable_end().tid >= 4);
    REQUIRE(e->Close().ok());
  }
  auto e = OpenOrDie(r.Options());
  CHECK(e->Get("b").value == "2");
  CHECK_FALSE(e->Get("a").found);
  CHECK(e->ComputeDigest().sha256_hex == digest);
}

TEST_CASE("CreateRefusesAnExistingRepository") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  Status s = Engine::Create(r.Options());
  CHECK(s.code() == Status::Code::kAlreadyExists);
}

TEST_CASE("GroupCommitBatchesConcurrentWriters") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  auto e = OpenOrDie(r.Options());
  constexpr int kThreads = 8, kPerThread = 300;
  std::atomic<int> acked{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i++) {
        auto res = e->Commit(PutTxn("k" + std::to_string(t) + "-" + std::to_string(i), "v"));
        if (res.ok()) acked++;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(acked == kThreads * kPerThread);
  EngineStats st = e->stats();
  CHECK(st.commits == kThreads * kPerThread);
  // Every commit waited for an fdatasync; with eight writers most batches hold several.
  CHECK(st.batches < st.commits);
  REQUIRE(e->Close().ok());
  auto e2 = OpenOrDie(r.Options());
  CHECK(e2->stats().keys == kThreads * kPerThread);
}

TEST_CASE("ConflictingReadIsRefused") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  auto e = OpenOrDie(r.Options());
  REQUIRE(e->Commit(PutTxn("acct", "100")).ok());
  ReadResult seen = e->Get("acct");
  // Another client changes the key after our read.
  REQUIRE(e->Commit(PutTxn("acct", "50")).ok());
  TxnRequest t = PutTxn("acct", "110");
  t.reads.push_back(ReadCheck{"acct", seen.version});
  auto res = e->Commit(t);
  REQUIRE_FALSE(res.ok());
  CHECK(res.status().IsConflict());
  CHECK(res.status().message().find("'acct'") != std::string::npos);
  CHECK(e->Get("acct").value == "50");
  // Read again and retry: accepted.
  t.reads[0].version = e->Get("acct").version;
  CHECK(e->Commit(t).ok());
  CHECK(e->Get("acct").value == "110");
  // A read of an absent key conflicts with a concurrent insert.
  TxnRequest ins = PutTxn("new", "x");
  ins.reads.push_back(ReadCheck{"new", 0});
  REQUIRE(e->Commit(PutTxn("new", "y")).ok());
  CHECK(e->Commit(ins).status().IsConflict());
  CHECK(e->stats().conflicts == 2);
}

TEST_CASE("ConflictWithinOneBatchIsDetected") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  auto e = OpenOrDie(r.Options());
  REQUIRE(e->Commit(PutTxn("x", "0")).ok());
  uint64_t v = e->Get("x").version;
  // Two transactions that both read x at v and write it, queued together: exactly one
  // may win.
  std::atomic<int> ok{0}, conflict{0}, done{0};
  for (int i = 0; i < 2; i++) {
    TxnRequest t = PutTxn("x", std::to_string(i + 1));
    t.reads.push_back(ReadCheck{"x", v});
    e->CommitAsync(t, [&](Status s, uint64_t) {
      if (s.ok()) ok++;
      else if (s.IsConflict()) conflict++;
      done++;
    });
  }
  REQUIRE(test::WaitFor([&] { return done == 2; }));
  CHECK(ok == 1);
  CHECK(conflict == 1);
}

TEST_CASE("CrashRecoveryKeepsEveryAcknowledgedCommit") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  std::string acks = r.dir / "acks";
  RunAndCrash([&] {
    auto e = Engine::Open(r.Options());
    if (!e.ok()) _exit(2);
    FILE* f = fopen(acks.c_str(), "w");
    for (int i = 0; i < 500; i++) {
      if (i == 250) (void)(*e)->Checkpoint();
      // Each transaction writes two keys with the same value: all or nothing.
      TxnRequest t = PutTxn("a" + std::to_string(i), std::to_string(i));
      t.writes.push_back(WriteOp{WriteOp::Kind::kPut, "b" + std::to_string(i), std::to_string(i)});
      if ((*e)->Commit(t).ok()) fprintf(f, "%d\n", i);
      fflush(f);
    }
    fclose(f);
    _exit(0);
  });
  CHECK(std::filesystem::exists(r.dir / "extent/extent0.dbf"));
  CHECK_FALSE(std::filesystem::exists(r.dir / "extent/clean-shutdown"));
  auto e = OpenOrDie(r.Options());
  std::string a = test::ReadAll(acks);
  int n = 0;
  for (size_t p = 0; p < a.size();) {
    size_t q = a.find('\n', p);
    std::string i = a.substr(p, q - p);
    CHECK(e->Get("a" + i).value == i);
    CHECK(e->Get("b" + i).value == i);
    n++;
    p = q + 1;
  }
  CHECK(n == 500);
}

TEST_CASE("RecoverFromLogsAloneWhenTheExtentIsMissing") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  std::string digest;
  {
    auto e = OpenOrDie(r.Options());
    for (int i = 0; i < 100; i++) REQUIRE(e->Commit(PutTxn("k" + std::to_string(i), "v")).ok());
    REQUIRE(e->StartNewLog().ok());
    for (int i = 0; i < 100; i++) REQUIRE(e->Commit(PutTxn("k" + std::to_string(i), "w")).ok());
    digest = e->ComputeDigest().sha256_hex;
    REQUIRE(e->Close().ok());
  }
  std::filesystem::remove(r.dir / "extent/extent0.dbf");
  auto e = OpenOrDie(r.Options());
  CHECK(e->ComputeDigest().sha256_hex == digest);
  CHECK(e->Get("k42").value == "w");
}

uint64_t LogicalEnd(const std::string& path) {
  auto sum = tranlog::SummarizeFile(Env::Default(), path);
  REQUIRE(sum.ok());
  return sum->end_offset;
}

TEST_CASE("PreallocatedSpaceIsDroppedAtRecovery") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  RunAndCrash([&] {
    auto e = Engine::Open(r.Options());
    for (int i = 0; i < 10; i++) (void)(*e)->Commit(PutTxn("k" + std::to_string(i), "v"));
    _exit(0);
  });
  uint64_t end = LogicalEnd(r.Tranlog(1));
  CHECK(test::FileSize(r.Tranlog(1)) > end);  // zeros the writer had preallocated
  VerifyReport rep = tranlog::VerifyFiles(Env::Default(), {r.Tranlog(1)}, nullptr);
  CHECK(rep.ok());
  REQUIRE(rep.notes.size() == 1);
  CHECK(rep.notes[0].find("preallocated space") != std::string::npos);
  auto e = OpenOrDie(r.Options());
  CHECK(e->Get("k9").found);
  REQUIRE(e->Close().ok());
  // A clean stop leaves the file ending at its last record.
  CHECK(test::FileSize(r.Tranlog(1)) == LogicalEnd(r.Tranlog(1)));
}

TEST_CASE("TornTailIsCutAtRecovery") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  RunAndCrash([&] {
    auto e = Engine::Open(r.Options());
    for (int i = 0; i < 10; i++) (void)(*e)->Commit(PutTxn("k" + std::to_string(i), "v"));
    _exit(0);
  });
  // Half a record after the last one, inside the preallocated zeros: the writer died
  // in the middle of a write that nobody was answered for.
  uint64_t end = LogicalEnd(r.Tranlog(1));
  std::string rec;
  std::string payload = "a payload that never fully reached the disk";
  tranlog::AppendRecord(&rec, tranlog::RecordType::kCommit, tranlog::kFlagBatchStart, 12, 1, 0,
                        AsBytes(payload));
  std::string d = test::ReadAll(r.Tranlog(1));
  d.replace(end, 30, rec.substr(0, 30));
  test::WriteAll(r.Tranlog(1), d);
  {
    VerifyReport rep = tranlog::VerifyFiles(Env::Default(), {r.Tranlog(1)}, nullptr);
    CHECK(rep.ok());
    REQUIRE(rep.notes.size() == 1);
    CHECK(rep.notes[0].find("torn tail") != std::string::npos);
    auto e = OpenOrDie(r.Options());
    CHECK(e->Get("k9").found);
    CHECK(e->durable_end().pos.offset == end);
    REQUIRE(e->Commit(PutTxn("after", "crash")).ok());
    REQUIRE(e->Close().ok());
  }
  auto sum = tranlog::SummarizeFile(Env::Default(), r.Tranlog(1));
  REQUIRE(sum.ok());
  CHECK_FALSE(sum->damage.has_value());
  CHECK(sum->end_offset == sum->bytes);
}

TEST_CASE("DamageBeforeALaterBatchIsCorruptionNotATornTail") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  RunAndCrash([&] {
    auto e = Engine::Open(r.Options());
    for (int i = 0; i < 10; i++) (void)(*e)->Commit(PutTxn("k" + std::to_string(i), "v"));
    _exit(0);
  });
  // Break the header of the second-to-last record: the last record starts a later
  // batch, so the damaged one had been synced and acknowledged.
  auto sum = tranlog::SummarizeFile(Env::Default(), r.Tranlog(1));
  REQUIRE(sum.ok());
  std::string d = test::ReadAll(r.Tranlog(1));
  uint64_t off = tranlog::kFileHeaderSize, prev = 0;
  while (off < sum->end_offset) {
    prev = off;
    off += DecodeFixed32(reinterpret_cast<const uint8_t*>(d.data()) + off + 4);
  }
  uint64_t second_last = tranlog::kFileHeaderSize;
  for (uint64_t o = tranlog::kFileHeaderSize; o < prev;) {
    second_last = o;
    o += DecodeFixed32(reinterpret_cast<const uint8_t*>(d.data()) + o + 4);
  }
  test::IncrementByte(r.Tranlog(1), second_last + 20);
  std::filesystem::remove(r.dir / "extent/extent0.dbf");
  auto e = Engine::Open(r.Options());
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().IsCorruption());
  CHECK(e.status().message().find("offset " + std::to_string(second_last)) != std::string::npos);
  CHECK(e.status().message().find("valid records follow it") != std::string::npos);
}

TEST_CASE("CorruptionInTheMiddleStopsRecoveryWithFileAndOffset") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  RunAndCrash([&] {
    auto e = Engine::Open(r.Options());
    for (int i = 0; i < 10; i++) (void)(*e)->Commit(PutTxn("k" + std::to_string(i), "value"));
    _exit(0);
  });
  // Corrupt the payload of a commit record in the middle of tranlog 1.
  auto sum = tranlog::SummarizeFile(Env::Default(), r.Tranlog(1));
  REQUIRE(sum.ok());
  REQUIRE(sum->records == 11);
  uint64_t off = tranlog::kFileHeaderSize;
  std::string d = test::ReadAll(r.Tranlog(1));
  for (int i = 0; i < 5; i++) off += DecodeFixed32(reinterpret_cast<const uint8_t*>(d.data()) + off + 4);
  test::IncrementByte(r.Tranlog(1), off + tranlog::kRecordHeaderSize + 1);
  std::filesystem::remove(r.dir / "extent/extent0.dbf");  // force replay through it
  auto e = Engine::Open(r.Options());
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().IsCorruption());
  std::string msg = e.status().message();
  CHECK(msg.find("tranlog1.dbf offset " + std::to_string(off) + ": payload checksum mismatch") !=
        std::string::npos);
}

TEST_CASE("MissingTranlogStopsRecovery") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  {
    auto e = OpenOrDie(r.Options());
    REQUIRE(e->StartNewLog().ok());
    REQUIRE(e->StartNewLog().ok());
    REQUIRE(e->Close().ok());
  }
  std::filesystem::remove(r.dir / "extent/extent0.dbf");
  std::filesystem::remove(r.Tranlog(2));
  auto e = Engine::Open(r.Options());
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().message().find("tranlog 2 is missing") != std::string::npos);
  // The engine states the fact; the stone (stone/stone.h) adds what to do.
  CHECK(e.status().reason() == std::string_view(kReasonCannotRecover));
  CHECK(e.status().hint().empty());
}

TEST_CASE("DiskFullFailsTheCommitAndTheStoneKeepsRunning") {
  Repo r;
  FaultInjectionEnv fenv(Env::Default());
  REQUIRE(Engine::Create(r.Options(&fenv)).ok());
  auto e = OpenOrDie(r.Options(&fenv));
  REQUIRE(e->Commit(PutTxn("before", "1")).ok());
  uint64_t size = e->durable_end().pos.offset;
  fenv.SetNoSpace(true);
  auto res = e->Commit(PutTxn("during", "2"));
  REQUIRE_FALSE(res.ok());
  CHECK(res.status().IsNoSpace());
  CHECK(res.status().message().find("nothing was written") != std::string::npos);
  CHECK_FALSE(e->Get("during").found);
  CHECK(e->Get("before").found);
  CHECK(e->durable_end().pos.offset == size);
  CHECK(LogicalEnd(r.Tranlog(1)) == size);
  CHECK(e->stats().last_error.find("No space") != std::string::npos);
  // A checkpoint cannot be written either; the previous extent stays valid.
  CHECK_FALSE(e->Checkpoint().ok());
  fenv.SetNoSpace(false);
  auto after = e->Commit(PutTxn("after", "3"));
  REQUIRE(after.ok());
  REQUIRE(e->Checkpoint().ok());
  REQUIRE(e->Close().ok());
  auto e2 = OpenOrDie(r.Options());
  CHECK(e2->Get("before").found);
  CHECK_FALSE(e2->Get("during").found);
  CHECK(e2->Get("after").value == "3");
}

TEST_CASE("ExtentWriteOutOfSpaceKeepsTheOldExtent") {
  Repo r;
  FaultInjectionEnv fenv(Env::Default());
  REQUIRE(Engine::Create(r.Options(&fenv)).ok());
  auto e = OpenOrDie(r.Options(&fenv));
  for (int i = 0; i < 200; i++) REQUIRE(e->Commit(PutTxn("k" + std::to_string(i), std::string(100, 'v'))).ok());
  REQUIRE(e->Checkpoint().ok());
  REQUIRE(e->Commit(PutTxn("late", "x")).ok());
  // Room for the checkpoint record but not for a 20 KB extent.
  fenv.SetSpaceLeft(2000);
  auto cp = e->Checkpoint();
  REQUIRE_FALSE(cp.ok());
  CHECK(cp.status().IsNoSpace());
  CHECK_FALSE(std::filesystem::exists(r.dir / "extent/extent0.dbf.tmp"));
  fenv.SetSpaceLeft(INT64_MAX);
  fenv.SetNoSpace(false);
  REQUIRE(e->Commit(PutTxn("later", "y")).ok());
  REQUIRE(e->Close().ok());
  auto e2 = OpenOrDie(r.Options());
  CHECK(e2->Get("late").found);
  CHECK(e2->Get("later").found);
  CHECK(e2->stats().keys == 202);
}

TEST_CASE("PowerLossKeepsEverythingSynced") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  std::string acks = r.dir / "acks";
  RunAndCrash([&] {
    FaultInjectionEnv fenv(Env::Default());
    auto e = Engine::Open(r.Options(&fenv));
    if (!e.ok()) _exit(2);
    int n = 0;
    for (int i = 0; i < 200; i++) n += (*e)->Commit(PutTxn("k" + std::to_string(i), "v")).ok();
    test::WriteAll(acks, std::to_string(n));
    // The power goes: everything not fdatasync'ed is lost.
    (void)fenv.DropUnsyncedData();
    _exit(0);
  });
  auto e = OpenOrDie(r.Options());
  CHECK(test::ReadAll(acks) == "200");
  for (int i = 0; i < 200; i++) CHECK(e->Get("k" + std::to_string(i)).found);
}

TEST_CASE("SecondOpenIsRefusedByTheLock") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  auto e = OpenOrDie(r.Options());
  auto e2 = Engine::Open(r.Options());
  REQUIRE_FALSE(e2.ok());
  CHECK(e2.status().code() == Status::Code::kBusy);
  CHECK(e2.status().message().find("is in use") != std::string::npos);
  CHECK(e2.status().message().find(std::to_string(getpid())) != std::string::npos);
}

TEST_CASE("RestoreModeRefusesCommitsButServesReads") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  {
    auto e = OpenOrDie(r.Options());
    REQUIRE(e->Commit(PutTxn("k", "v")).ok());
    REQUIRE(e->Close().ok());
  }
  EngineOptions o = r.Options();
  o.restore_mode = true;
  auto e = OpenOrDie(o);
  CHECK(e->Get("k").value == "v");
  auto res = e->Commit(PutTxn("k", "w"));
  CHECK(res.status().code() == Status::Code::kBusy);
  CHECK(res.status().message().find("restore mode") != std::string::npos);
}

TEST_CASE("SubscribersSeeTheDurableEndAdvance") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  auto e = OpenOrDie(r.Options());
  std::mutex mu;
  std::vector<DurableEnd> seen;
  uint64_t id = e->Subscribe([&](const DurableEnd& end) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back(end);
  });
  auto t = e->Commit(PutTxn("a", "b"));
  REQUIRE(t.ok());
  e->Unsubscribe(id);
  std::lock_guard<std::mutex> l(mu);
  REQUIRE(seen.size() >= 2);
  CHECK(seen.back().tid == *t);
  CHECK(seen.back().pos.offset == LogicalEnd(r.Tranlog(1)));
  CHECK(seen.front().tid < seen.back().tid);
}

}  // namespace tranship

namespace tranship {

TEST_CASE("RestoreModeEnteredWithDashRSurvivesACrash") {
  Repo r;
  REQUIRE(Engine::Create(r.Options()).ok());
  {
    auto e = OpenOrDie(r.Options());
    REQUIRE(e->Commit(PutTxn("k", "v")).ok());
    REQUIRE(e->Close().ok());
  }
  // startstone -R, then the process dies before any periodic checkpoint.
  RunAndCrash([&] {
    EngineOptions o = r.Options();
    o.restore_mode = true;
    auto e = Engine::Open(o);
    if (!e.ok() || !(*e)->in_restore_mode()) _exit(2);
    _exit(0);
  });
  // A plain start must not bring it back as a second primary.
  auto e = OpenOrDie(r.Options());
  CHECK(e->in_restore_mode());
  CHECK(e->Commit(PutTxn("k", "w")).status().code() == Status::Code::kBusy);
  CHECK(e->Get("k").value == "v");
}

}  // namespace tranship
