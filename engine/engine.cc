// The engine: state, the log-writer thread (group commit), checkpoints.
//
// Threads: callers enqueue work items; one log-writer thread takes everything queued,
// validates and encodes the commits into one batch, writes and fdatasyncs it, applies
// it to the state and answers the callers. Checkpoint extents are written by a
// background thread from a copy of the state taken by the log writer, so commits do not
// wait for the extent's disk writes.

#include "engine/engine.h"

#include <openssl/evp.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/file_lock.h"
#include "base/log.h"
#include "engine/extent.h"
#include "engine/recovery.h"
#include "tranlog/writer.h"

namespace tranship {
namespace {

constexpr char kCleanMarker[] = "clean-shutdown";
constexpr char kLockFile[] = "lock";

struct WorkItem {
  enum class Kind {
    kCommit, kCheckpoint, kNewLog, kStop, kSnapshot,
    kSuspend, kResume, kCommitRestore, kEnterRestore
  };
  Kind kind = Kind::kCommit;
  TxnRequest txn;
  Engine::CommitCallback done;                     // kCommit
  std::function<void(Result<uint64_t>)> reply;     // control items
  std::function<void(Result<StateSnapshot>)> snapshot;  // kSnapshot
  uint64_t arg = 0;                                // kCommitRestore: the new file id
  std::shared_ptr<StateMap> state;                 // kEnterRestore
  RestoredPosition pos;                            // kEnterRestore
};

// Appends the varint encoding of `v` to `out`.
void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(const EngineOptions& o, Env* env, std::unique_ptr<FileLock> lock,
             RecoveredState rs)
      : opts_(o), env_(env), lock_(std::move(lock)), state_(std::move(rs.state)),
        applied_tid_(rs.tid), restoring_(rs.restoring), restore_(rs.restore),
        writer_(std::move(rs.writer)), suspended_(rs.commits_suspended), end_(rs.end) {
    last_checkpoint_tid_ = rs.tid;
    checkpoint_record_tid_ = rs.tid;
    last_checkpoint_us_ = NowMicros();
    if (writer_) writer_->Preallocate();
    thread_ = std::thread([this] { WriterLoop(); });
  }

  ~EngineImpl() override { (void)Close(); }

  Status Close() override {
    std::lock_guard<std::mutex> cl(close_mu_);
    if (closed_) return close_status_;
    closed_ = true;
    Result<uint64_t> r = Control(WorkItem::Kind::kStop);
    thread_.join();
    JoinCheckpointThread();
    close_status_ = r.ok() ? checkpoint_status_ : r.status();
    if (close_status_.ok()) {
      close_status_ = WriteFileAtomic(env_, JoinPath(opts_.extent_dir, kCleanMarker), "clean\n");
    }
    lock_.reset();
    return close_status_;
  }

  void CommitAsync(TxnRequest txn, CommitCallback done) override {
    WorkItem item;
    item.kind = WorkItem::Kind::kCommit;
    item.txn = std::move(txn);
    item.done = std::move(done);
    Enqueue(std::move(item));
  }

  Result<uint64_t> Commit(TxnRequest txn) override {
    std::promise<Result<uint64_t>> p;
    auto f = p.get_future();
    CommitAsync(std::move(txn), [&p](Status s, uint64_t tid) {
      if (s.ok()) p.set_value(tid);
      else p.set_value(std::move(s));
    });
    return f.get();
  }

  ReadResult Get(std::string_view key) const override {
    std::shared_lock l(state_mu_);
    auto it = state_.find(key);
    if (it == state_.end()) return ReadResult{};
    return ReadResult{true, it->second.value, it->second.version};
  }

  std::vector<std::pair<std::string, std::string>> Scan(std::string_view start,
                                                        size_t limit) const override {
    std::shared_lock l(state_mu_);
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = state_.lower_bound(start); it != state_.end() && out.size() < limit; ++it) {
      out.emplace_back(it->first, it->second.value);
    }
    return out;
  }

  Result<uint64_t> Checkpoint() override { return Control(WorkItem::Kind::kCheckpoint); }
  Result<uint64_t> StartNewLog() override { return Control(WorkItem::Kind::kNewLog); }
  Result<uint64_t> SuspendCommits() override { return Control(WorkItem::Kind::kSuspend); }
  Result<uint64_t> ResumeCommits() override { return Control(WorkItem::Kind::kResume); }

  bool in_restore_mode() const override { return restoring_; }

  RestoreProgress restore_progress() const override {
    std::shared_lock l(state_mu_);
    return restore_;
  }

  Status ApplyRestored(
      const std::function<void(StateMap* state, RestoreProgress* progress)>& fn) override {
    std::lock_guard<std::mutex> rl(restore_mu_);
    if (!restoring_) return NotInRestoreMode();
    DurableEnd end;
    {
      std::unique_lock l(state_mu_);
      fn(&state_, &restore_);
      applied_tid_ = restore_.at.tid;
      end = restore_.at.AsEnd();
    }
    PublishEnd(end);
    return Status::OK();
  }

  Status EnterRestoreMode(StateMap state, const RestoredPosition& pos) override {
    WorkItem item;
    item.kind = WorkItem::Kind::kEnterRestore;
    item.state = std::make_shared<StateMap>(std::move(state));
    item.pos = pos;
    Result<uint64_t> r = Control(std::move(item));
    return r.ok() ? Status::OK() : r.status();
  }

  Result<DurableEnd> CommitRestore(uint64_t file_id) override {
    WorkItem item;
    item.kind = WorkItem::Kind::kCommitRestore;
    item.arg = file_id;
    Result<uint64_t> r = Control(std::move(item));
    if (!r.ok()) return r.status();
    return durable_end();
  }

  uint64_t newest_tranlog_id() const override {
    auto set = tranlog::ListTranlogs(env_, opts_.tranlog_dirs, opts_.tranlog_prefix);
    return set.ok() ? set->newest() : 0;
  }

  const EngineOptions& options() const override { return opts_; }

  DurableEnd durable_end() const override {
    std::lock_guard<std::mutex> l(end_mu_);
    return end_;
  }

  uint64_t Subscribe(DurableCallback fn) override {
    std::lock_guard<std::mutex> l(subs_mu_);
    uint64_t id = ++next_sub_id_;
    fn(durable_end());
    subs_.emplace(id, std::move(fn));
    return id;
  }

  void Unsubscribe(uint64_t id) override {
    std::lock_guard<std::mutex> l(subs_mu_);
    subs_.erase(id);
  }

  Result<StateSnapshot> SnapshotState() override {
    std::promise<Result<StateSnapshot>> p;
    auto f = p.get_future();
    WorkItem item;
    item.kind = WorkItem::Kind::kSnapshot;
    item.snapshot = [&p](Result<StateSnapshot> r) { p.set_value(std::move(r)); };
    item.reply = [&p](Result<uint64_t> r) { p.set_value(r.status()); };  // refused at stop
    Enqueue(std::move(item));
    return f.get();
  }

  Digest ComputeDigest() const override {
    std::shared_lock l(state_mu_);
    Digest d;
    d.tid = applied_tid_;
    d.keys = state_.size();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    // The pairs are encoded into a buffer hashed 64 KiB at a time: one digest update
    // per pair would cost more than the hashing itself.
    std::string buf;
    buf.reserve(80 << 10);
    for (const auto& [k, e] : state_) {
      AppendVarint(&buf, k.size());
      buf += k;
      AppendVarint(&buf, e.value.size());
      buf += e.value;
      if (buf.size() >= (64 << 10)) {
        EVP_DigestUpdate(ctx, buf.data(), buf.size());
        buf.clear();
      }
    }
    EVP_DigestUpdate(ctx, buf.data(), buf.size());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < n; i++) d.sha256_hex += fmt::format("{:02x}", md[i]);
    return d;
  }

  std::vector<TranlogFileInfo> TranlogFiles() const override {
    std::vector<TranlogFileInfo> out;
    auto set = tranlog::ListTranlogs(env_, opts_.tranlog_dirs, opts_.tranlog_prefix);
    if (!set.ok()) return out;
    for (const auto& [id, path] : set->files) {
      auto size = env_->GetFileSize(path);
      out.push_back(TranlogFileInfo{id, path, size.ok() ? *size : 0});
    }
    return out;
  }

  EngineStats stats() const override {
    std::lock_guard<std::mutex> l(stats_mu_);
    EngineStats s = stats_;
    s.keys = [&] {
      std::shared_lock sl(state_mu_);
      return static_cast<uint64_t>(state_.size());
    }();
    s.last_checkpoint_tid = last_checkpoint_tid_;
    s.last_checkpoint_us = last_checkpoint_us_;
    s.restore_mode = restoring_;
    s.commits_suspended = suspended_;
    return s;
  }

 private:
  struct Pending {
    CommitCallback done;
    uint64_t tid;
    std::vector<WriteOp> writes;
  };

  void Enqueue(WorkItem item) {
    {
      std::lock_guard<std::mutex> l(queue_mu_);
      queue_.push_back(std::move(item));
    }
    queue_cv_.notify_one();
  }

  Result<uint64_t> Control(WorkItem::Kind kind) {
    WorkItem item;
    item.kind = kind;
    return Control(std::move(item));
  }
  Result<uint64_t> Control(WorkItem item) {
    std::promise<Result<uint64_t>> p;
    auto f = p.get_future();
    item.reply = [&p](Result<uint64_t> r) { p.set_value(std::move(r)); };
    Enqueue(std::move(item));
    return f.get();
  }

  Status NotInRestoreMode() const {
    return Status::Busy(fmt::format("The stone '{}' is not in restore mode. To restore into it "
                                    "restart it with 'startstone {} -R'",
                                    opts_.stone_name, opts_.stone_name));
  }
  Status InRestoreMode() const {
    return Status::Busy(fmt::format("The stone '{}' is in restore mode; it accepts no commits "
                                    "until 'tranship admin {} commit-restore'",
                                    opts_.stone_name, opts_.stone_name));
  }

  // ---- the log-writer thread ----

  void WriterLoop() {
    pthread_setname_np(pthread_self(), "tranship-log");
    std::vector<WorkItem> items;
    bool stop = false;
    while (!stop) {
      {
        std::unique_lock<std::mutex> l(queue_mu_);
        if (queue_.empty()) {
          if (opts_.checkpoint_interval_s > 0) {
            queue_cv_.wait_for(l, std::chrono::seconds(1), [&] { return !queue_.empty(); });
          } else {
            queue_cv_.wait(l, [&] { return !queue_.empty(); });
          }
        }
        items.swap(queue_);
      }
      for (WorkItem& item : items) {
        if (item.kind == WorkItem::Kind::kCommit) {
          AddCommit(item);
          continue;
        }
        (void)FlushBatch();
        switch (item.kind) {
          case WorkItem::Kind::kCheckpoint: item.reply(DoCheckpoint(/*wait=*/true)); break;
          case WorkItem::Kind::kNewLog: item.reply(DoNewLog()); break;
          case WorkItem::Kind::kSuspend: item.reply(DoSuspend()); break;
          case WorkItem::Kind::kResume: item.reply(DoResume()); break;
          case WorkItem::Kind::kCommitRestore: item.reply(DoCommitRestore(item.arg)); break;
          case WorkItem::Kind::kEnterRestore: item.reply(DoEnterRestore(item)); break;
          case WorkItem::Kind::kSnapshot: item.snapshot(SnapshotNow()); break;
          case WorkItem::Kind::kStop: {
            stop = true;
            // A suspended primary stays exactly at its failover checkpoint (its standbys
            // and a new primary descend from there): nothing to record at the stop.
            auto r = SuspendedAndIdle() ? Result<uint64_t>(uint64_t{0}) : DoCheckpoint(/*wait=*/true);
            if (writer_) {
              Status c = writer_->Close();
              if (!c.ok() && r.ok()) r = c;
            }
            item.reply(r.ok() ? Result<uint64_t>(uint64_t{0}) : Result<uint64_t>(r.status()));
            break;
          }
          case WorkItem::Kind::kCommit: break;
        }
      }
      items.clear();
      (void)FlushBatch();
      if (!stop && opts_.checkpoint_interval_s > 0 && !SuspendedAndIdle() &&
          NowMicros() - last_checkpoint_us_ >= uint64_t{opts_.checkpoint_interval_s} * 1000000u) {
        (void)DoCheckpoint(/*wait=*/false);
      }
    }
    // Work queued after the stop request is refused, never left waiting.
    std::lock_guard<std::mutex> l(queue_mu_);
    for (WorkItem& item : queue_) {
      Status st = Status::Aborted("the stone is shutting down");
      if (item.done) item.done(st, 0);
      if (item.reply) item.reply(st);
    }
    queue_.clear();
  }

  uint64_t CurrentVersion(const std::string& key) const {
    auto o = overlay_.find(key);
    if (o != overlay_.end()) return o->second;
    auto it = state_.find(key);  // only this thread writes state_: no lock needed to read
    return it == state_.end() ? 0 : it->second.version;
  }

  // Whether the state is exactly that of the last checkpoint of a suspended primary.
  bool SuspendedAndIdle() const {
    return suspended_ && writer_ && writer_->last_tid() == checkpoint_record_tid_ &&
           !writer_->HasPending();
  }

  void AddCommit(WorkItem& item) {
    if (restoring_) {
      item.done(InRestoreMode(), 0);
      return;
    }
    if (suspended_) {
      item.done(Status::Busy(fmt::format(
                    "Commits to the stone '{}' are suspended for failover; to accept commits "
                    "again run 'tranship admin {} resume-commits'",
                    opts_.stone_name, opts_.stone_name)),
                0);
      return;
    }
    for (const ReadCheck& r : item.txn.reads) {
      if (CurrentVersion(r.key) != r.version) {
        std::lock_guard<std::mutex> l(stats_mu_);
        stats_.conflicts++;
        item.done(Status::Conflict(fmt::format(
                      "key '{}' was changed by another commit after this transaction read it; "
                      "retry the transaction",
                      r.key.size() > 64 ? r.key.substr(0, 64) + "..." : r.key)),
                  0);
        return;
      }
    }
    payload_.clear();
    EncodeCommitPayload(item.txn.writes, &payload_);
    if (payload_.size() > tranlog::kMaxPayloadSize) {
      item.done(Status::InvalidArgument(fmt::format(
                    "transaction is {} bytes, more than the {} byte limit of one record",
                    payload_.size(), tranlog::kMaxPayloadSize)),
                0);
      return;
    }
    uint64_t tid = writer_->Add(tranlog::RecordType::kCommit, 0, NowMicros(), AsBytes(payload_));
    for (const WriteOp& w : item.txn.writes) {
      overlay_[w.key] = w.kind == WriteOp::Kind::kPut ? tid : 0;
    }
    batch_.push_back(Pending{std::move(item.done), tid, std::move(item.txn.writes)});
  }

  // Writes and syncs the pending batch, then applies and acknowledges it.
  Status FlushBatch() {
    if (!writer_ || !writer_->HasPending()) return Status::OK();
    Status s = writer_->Flush();
    overlay_.clear();
    if (!s.ok()) {
      Status err = s.IsNoSpace()
          ? Status::NoSpace(fmt::format("commit failed, nothing was written: {}. Free space "
                                        "there; the stone keeps running", s.message()))
          : Status::IOError(fmt::format("commit failed, nothing was written: {}", s.message()));
      TS_LOG_ERROR("{}", err.message());
      {
        std::lock_guard<std::mutex> l(stats_mu_);
        stats_.last_error = err.message();
      }
      for (Pending& p : batch_) p.done(err, 0);
      batch_.clear();
      return s;
    }
    {
      std::unique_lock l(state_mu_);
      for (Pending& p : batch_) {
        for (WriteOp& w : p.writes) {
          if (w.kind == WriteOp::Kind::kPut) {
            auto it = state_.find(w.key);
            if (it == state_.end()) {
              state_.emplace(std::move(w.key), StateEntry{std::move(w.value), p.tid});
            } else {
              it->second.value = std::move(w.value);
              it->second.version = p.tid;
            }
          } else {
            state_.erase(w.key);
          }
        }
      }
      applied_tid_ = writer_->last_tid();
    }
    {
      std::lock_guard<std::mutex> l(stats_mu_);
      stats_.commits += batch_.size();
      stats_.batches++;
      stats_.tranlog_bytes = writer_->bytes_written();
    }
    PublishEnd();
    for (Pending& p : batch_) p.done(Status::OK(), p.tid);
    batch_.clear();
    writer_->Preallocate();
    if (writer_->NeedsRotation()) {
      Status r = writer_->Rotate(NowMicros());
      if (!r.ok()) TS_LOG_ERROR("cannot switch to a new tranlog: {}", r.ToString());
      SyncAppliedTid();
      PublishEnd();
    }
    return Status::OK();
  }

  // Records that change no keys (checkpoint, log switch) still advance the state's TID.
  void SyncAppliedTid() {
    std::unique_lock l(state_mu_);
    applied_tid_ = writer_->last_tid();
  }

  void PublishEnd() {
    PublishEnd(DurableEnd{writer_->lineage(), writer_->end(), writer_->last_tid(),
                          writer_->chain(), writer_->last_timestamp_us()});
  }
  void PublishEnd(const DurableEnd& e) {
    {
      std::lock_guard<std::mutex> l(end_mu_);
      if (e == end_) return;
      end_ = e;
    }
    std::lock_guard<std::mutex> l(subs_mu_);
    for (auto& [id, fn] : subs_) fn(e);
  }

  Result<uint64_t> DoNewLog() {
    if (!writer_) {
      return Status::Busy(fmt::format("The stone '{}' is in restore mode and writes no tranlogs "
                                      "until 'tranship admin {} commit-restore'",
                                      opts_.stone_name, opts_.stone_name));
    }
    Status s = writer_->Rotate(NowMicros());
    SyncAppliedTid();
    PublishEnd();
    if (!s.ok()) return s;
    TS_LOG_INFO("started tranlog {}", writer_->file_id());
    return writer_->file_id();
  }

  // Runs between batches (the pending one was just flushed), so no commit is half
  // applied and the durable end's TID is the state's.
  Result<StateSnapshot> SnapshotNow() {
    std::shared_lock l(state_mu_);
    StateSnapshot s;
    // In restore mode the restored position moves under the state lock held here.
    s.at = restoring_ ? restore_.at.AsEnd() : durable_end();
    if (s.at.tid != applied_tid_) {
      return Status::Busy(fmt::format("the state (TID {}) and the tranlog end (TID {}) "
                                      "disagree; retry", applied_tid_, s.at.tid));
    }
    s.commits_suspended = suspended_;
    s.state = std::make_shared<const StateMap>(state_);
    return s;
  }

  // Writes a checkpoint record (not in restore mode), copies the state and hands it to
  // the checkpoint thread. With `wait`, returns the extent write's result. With
  // `state_frozen` (commits suspended: nothing changes the state until resume-commits or
  // restore mode, which first wait for the extent write), the thread reads the state in
  // place instead of a copy, so that suspending a large stone takes no copy.
  Result<uint64_t> DoCheckpoint(bool wait, uint8_t record_flags = 0, bool state_frozen = false) {
    JoinCheckpointThread();
    ExtentHeader h;
    std::shared_ptr<StateMap> snapshot;
    if (writer_) {
      writer_->Add(tranlog::RecordType::kCheckpoint, record_flags, NowMicros(), Bytes());
      Status s = writer_->Flush();
      if (!s.ok()) {
        TS_LOG_ERROR("checkpoint failed: {}", s.ToString());
        return s;
      }
      SyncAppliedTid();
      PublishEnd();
      h.lineage = writer_->lineage();
      h.tid = writer_->last_tid();
      h.replay_from = writer_->end();
      h.chain = writer_->chain();
      h.last_commit_us = writer_->last_timestamp_us();
      h.flags = suspended_ ? kExtentFlagCommitsSuspended : 0;
      checkpoint_record_tid_ = h.tid;
      // Writes happen on this thread only.
      snapshot = state_frozen ? std::shared_ptr<StateMap>(&state_, [](StateMap*) {})
                              : std::make_shared<StateMap>(state_);
    } else {
      // Restore mode: restore batches write the state from another thread; the state and
      // the restored position are taken together under the lock.
      std::shared_lock l(state_mu_);
      const RestoredPosition& at = restore_.at;
      h.lineage = at.lineage;
      h.tid = at.tid;
      h.replay_from = at.pos;
      h.chain = at.chain;
      h.last_commit_us = at.commit_time_us;
      h.flags = kExtentFlagRestoring | (restore_.failover_tid ? kExtentFlagCommitsSuspended : 0);
      snapshot = std::make_shared<StateMap>(state_);
    }
    last_checkpoint_us_ = NowMicros();
    uint64_t tid = h.tid;
    checkpoint_thread_ = std::thread([this, h, snapshot] {
      pthread_setname_np(pthread_self(), "tranship-ckpt");
      uint64_t t0 = MonotonicNanos();
      Status s = WriteExtent(env_, opts_.extent_dir, h, *snapshot);
      if (s.ok()) {
        last_checkpoint_tid_ = h.tid;
        TS_LOG_INFO("checkpoint at TID {}: {} keys written in {:.1f} ms", h.tid, snapshot->size(),
                    (MonotonicNanos() - t0) / 1e6);
      } else {
        TS_LOG_ERROR("checkpoint at TID {} failed, the previous extent stays valid: {}", h.tid,
                     s.ToString());
        std::lock_guard<std::mutex> l(stats_mu_);
        stats_.last_error = s.message();
      }
      checkpoint_status_ = s;
    });
    if (!wait) return tid;
    JoinCheckpointThread();
    if (!checkpoint_status_.ok()) return checkpoint_status_;
    return tid;
  }

  void JoinCheckpointThread() {
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  }

  // ---- suspend / resume / commit-restore / enter restore mode (log-writer thread) ----

  Result<uint64_t> DoSuspend() {
    if (restoring_) return InRestoreMode();
    if (suspended_) {
      return Status::AlreadyExists(fmt::format(
          "Commits to the stone '{}' are already suspended; to resume them run 'tranship admin "
          "{} resume-commits'",
          opts_.stone_name, opts_.stone_name));
    }
    uint64_t before = writer_->last_tid();
    suspended_ = true;
    // The failover checkpoint record alone makes the suspension durable (recovery
    // replays it as suspended), so the answer need not wait for the extent, which is
    // written in the background from the frozen state.
    Result<uint64_t> r = DoCheckpoint(/*wait=*/false, tranlog::kFlagFailover, /*state_frozen=*/true);
    if (writer_->last_tid() == before) suspended_ = false;  // the record was not written
    if (r.ok()) TS_LOG_INFO("commits suspended for failover at TID {}", *r);
    return r;
  }

  Result<uint64_t> DoResume() {
    if (restoring_) return InRestoreMode();
    JoinCheckpointThread();  // it may still read the frozen state
    if (!suspended_) {
      return Status::InvalidArgument(
          fmt::format("Commits to the stone '{}' are not suspended", opts_.stone_name));
    }
    uint64_t tid = writer_->Add(tranlog::RecordType::kResumeCommits, 0, NowMicros(), Bytes());
    TRANSHIP_RETURN_IF_ERROR(writer_->Flush());
    suspended_ = false;
    SyncAppliedTid();
    PublishEnd();
    TS_LOG_INFO("commits resumed at TID {}", tid);
    return tid;
  }

  Result<uint64_t> DoCommitRestore(uint64_t file_id) {
    std::lock_guard<std::mutex> rl(restore_mu_);
    if (!restoring_) return NotInRestoreMode();
    RestoredPosition at = restore_progress().at;
    tranlog::WriterOptions wo{env_, opts_.tranlog_dirs, opts_.tranlog_prefix,
                              opts_.tranlog_size_bytes};
    Lineage lineage = Lineage::Random();
    auto w = tranlog::Writer::CreateFile(wo, lineage, file_id, at.tid + 1, at.chain);
    if (!w.ok()) return w.status();
    tranlog::LineageStartPayload ls;
    ls.lineage = lineage;
    ls.parent = at.lineage;
    ls.parent_end = at.pos;
    ls.parent_tid = at.tid;
    std::string payload = tranlog::EncodeLineageStart(ls);
    (*w)->Add(tranlog::RecordType::kLineageStart, 0, NowMicros(), AsBytes(payload));
    TRANSHIP_RETURN_IF_ERROR((*w)->Flush());
    // Done: the durable lineage-start record is the commit-restore (recovery finds it
    // after the restoring extent).
    writer_ = std::move(*w);
    restoring_ = false;
    suspended_ = false;
    {
      std::unique_lock l(state_mu_);
      restore_.failover_tid = 0;
    }
    // No checkpoint now, and the periodic one a whole interval from now: copying a large
    // state would hold up the first commits after a failover. Until then recovery finds
    // the restoring extent continued by this file and replays it as a primary.
    last_checkpoint_us_ = NowMicros();
    SyncAppliedTid();
    PublishEnd();
    writer_->Preallocate();
    TS_LOG_INFO("commit-restore: left restore mode at {}; new lineage {} in tranlog {}",
                at.ToString(), lineage.ToHex(), file_id);
    return writer_->last_tid();
  }

  Result<uint64_t> DoEnterRestore(WorkItem& item) {
    std::lock_guard<std::mutex> rl(restore_mu_);
    JoinCheckpointThread();  // it may still read the frozen state of a suspended primary
    if (writer_) {
      Status c = writer_->Close();
      if (!c.ok()) return c;
      writer_.reset();
    }
    {
      std::unique_lock l(state_mu_);
      state_.swap(*item.state);
      restore_ = RestoreProgress{};
      restore_.at = item.pos;
      applied_tid_ = item.pos.tid;
    }
    restoring_ = true;
    suspended_ = false;
    PublishEnd(item.pos.AsEnd());
    TS_LOG_INFO("entered restore mode at {}", item.pos.ToString());
    return DoCheckpoint(/*wait=*/true);
  }

  const EngineOptions opts_;
  Env* const env_;
  std::unique_ptr<FileLock> lock_;

  mutable std::shared_mutex state_mu_;
  StateMap state_;                 // GUARDED_BY(state_mu_); written by the writer thread, or
                                   // in restore mode by ApplyRestored
  uint64_t applied_tid_;           // GUARDED_BY(state_mu_)
  std::atomic<bool> restoring_;    // restore mode: no writer_, no commits
  RestoreProgress restore_;        // GUARDED_BY(state_mu_); meaningful in restore mode
  std::mutex restore_mu_;          // one ApplyRestored / mode change at a time

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<WorkItem> queue_;

  // Owned by the log-writer thread.
  std::unique_ptr<tranlog::Writer> writer_;
  std::vector<Pending> batch_;
  std::unordered_map<std::string, uint64_t> overlay_;  // versions written by the batch
  std::string payload_;
  std::atomic<bool> suspended_;
  std::atomic<uint64_t> last_checkpoint_us_{0};
  std::atomic<uint64_t> last_checkpoint_tid_{0};    // of the last extent written
  uint64_t checkpoint_record_tid_ = 0;              // of the last checkpoint record

  mutable std::mutex end_mu_;
  DurableEnd end_;

  std::mutex subs_mu_;
  std::map<uint64_t, DurableCallback> subs_;
  uint64_t next_sub_id_ = 0;

  mutable std::mutex stats_mu_;
  EngineStats stats_;

  std::thread thread_;
  std::thread checkpoint_thread_;
  Status checkpoint_status_;

  std::mutex close_mu_;
  bool closed_ = false;
  Status close_status_;
};

Status LockRepository(Env* env, const EngineOptions& o, std::unique_ptr<FileLock>* lock) {
  TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(o.extent_dir));
  auto l = AcquireLock(env, JoinPath(o.extent_dir, kLockFile));
  if (!l.ok()) {
    if (l.status().code() == Status::Code::kBusy) {
      return Status::Busy(fmt::format("the repository in {} is in use: {}. Stop the other "
                                      "process first (stopstone)",
                                      o.extent_dir, l.status().message()));
    }
    return l.status();
  }
  *lock = std::move(*l);
  return Status::OK();
}

}  // namespace

Status Engine::Create(const EngineOptions& options) {
  Env* env = options.env ? options.env : Env::Default();
  if (options.tranlog_dirs.empty()) return Status::InvalidArgument("no tranlog directory given");
  std::unique_ptr<FileLock> lock;
  TRANSHIP_RETURN_IF_ERROR(LockRepository(env, options, &lock));
  if (env->FileExists(JoinPath(options.extent_dir, kExtentFileName))) {
    return Status::AlreadyExists(options.extent_dir + " already holds a repository");
  }
  for (const std::string& d : options.tranlog_dirs) TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(d));
  auto set = tranlog::ListTranlogs(env, options.tranlog_dirs, options.tranlog_prefix);
  if (!set.ok()) return set.status();
  if (!set->files.empty()) {
    return Status::AlreadyExists(fmt::format("tranlogs already exist in the tranlog directory ({})",
                                             set->files.begin()->second));
  }
  tranlog::WriterOptions wo{env, options.tranlog_dirs, options.tranlog_prefix,
                            options.tranlog_size_bytes};
  Lineage lineage = Lineage::Random();
  auto w = tranlog::Writer::CreateFile(wo, lineage, 1, 1, 0);
  if (!w.ok()) return w.status();
  tranlog::LineageStartPayload ls;
  ls.lineage = lineage;
  std::string payload = tranlog::EncodeLineageStart(ls);
  uint64_t now = NowMicros();
  (*w)->Add(tranlog::RecordType::kLineageStart, 0, now, AsBytes(payload));
  TRANSHIP_RETURN_IF_ERROR((*w)->Flush());
  ExtentHeader h;
  h.lineage = lineage;
  h.tid = (*w)->last_tid();
  h.replay_from = (*w)->end();
  h.chain = (*w)->chain();
  h.last_commit_us = now;
  TRANSHIP_RETURN_IF_ERROR(WriteExtent(env, options.extent_dir, h, StateMap()));
  return WriteFileAtomic(env, JoinPath(options.extent_dir, kCleanMarker), "clean\n");
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  Env* env = options.env ? options.env : Env::Default();
  if (options.tranlog_dirs.empty()) return Status::InvalidArgument("no tranlog directory given");
  std::unique_ptr<FileLock> lock;
  TRANSHIP_RETURN_IF_ERROR(LockRepository(env, options, &lock));
  std::string marker = JoinPath(options.extent_dir, kCleanMarker);
  bool clean = env->FileExists(marker);
  uint64_t t0 = MonotonicNanos();
  auto rs = Recover(options, env);
  if (!rs.ok()) return rs.status();
  TS_LOG_INFO("recovery after {} stop: {}, replayed {} records to TID {}{} in {:.1f} ms; "
              "lineage {}, durable end {}",
              clean ? "a clean" : "an unclean",
              rs->had_extent ? fmt::format("extent at TID {}", rs->extent_tid)
                             : std::string("no extent, from tranlog 1"),
              rs->records_replayed, rs->tid,
              rs->torn_bytes_cut ? fmt::format(", cut a torn tail of {} bytes", rs->torn_bytes_cut)
                                 : std::string(),
              (MonotonicNanos() - t0) / 1e6, rs->lineage.ToHex(), rs->end.pos.ToString());
  // From here on a crash is an unclean stop.
  if (clean) {
    TRANSHIP_RETURN_IF_ERROR(env->RemoveFile(marker));
    TRANSHIP_RETURN_IF_ERROR(env->SyncDir(options.extent_dir));
  }
  bool entered_restore_mode = rs->entered_restore_mode;
  auto engine = std::make_unique<EngineImpl>(options, env, std::move(lock), std::move(*rs));
  if (entered_restore_mode) {
    // Make restore mode durable before the stone serves anyone: a standby seeded with a
    // copy of its primary and started with -R must come back in restore mode after a
    // crash, never as a second primary.
    auto cp = engine->Checkpoint();
    if (!cp.ok()) {
      return Status::IOError(fmt::format("cannot record restore mode in the extent: {}",
                                         cp.status().message()));
    }
  }
  if (engine->in_restore_mode()) {
    TS_LOG_INFO("restore mode at {}", engine->restore_progress().at.ToString());
  }
  return std::unique_ptr<Engine>(std::move(engine));
}

Status Engine::CreateRestoring(const EngineOptions& options, const StateMap& state,
                               const RestoredPosition& pos, bool replace) {
  Env* env = options.env ? options.env : Env::Default();
  std::unique_ptr<FileLock> lock;
  TRANSHIP_RETURN_IF_ERROR(LockRepository(env, options, &lock));
  if (!replace && env->FileExists(JoinPath(options.extent_dir, kExtentFileName))) {
    return Status::AlreadyExists(options.extent_dir + " already holds a repository");
  }
  for (const std::string& d : options.tranlog_dirs) TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(d));
  ExtentHeader h;
  h.lineage = pos.lineage;
  h.tid = pos.tid;
  h.replay_from = pos.pos;
  h.chain = pos.chain;
  h.last_commit_us = pos.commit_time_us;
  h.flags = kExtentFlagRestoring;
  TRANSHIP_RETURN_IF_ERROR(WriteExtent(env, options.extent_dir, h, state));
  return WriteFileAtomic(env, JoinPath(options.extent_dir, kCleanMarker), "clean\n");
}


}  // namespace tranship
