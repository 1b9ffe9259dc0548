#include "engine/log_writer.h"

#include <pthread.h>

#include <chrono>
#include <future>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/restore_mode.h"

namespace tranship {

LogWriter::LogWriter(const EngineOptions& opts, StateStore* store, DurableEndFeed* feed,
                     std::unique_ptr<tranlog::Writer> writer, bool restoring, bool suspended)
    : opts_(opts), store_(store), feed_(feed), writer_(std::move(writer)),
      restoring_(restoring), suspended_(suspended) {
  if (writer_) writer_->Preallocate();
}

LogWriter::~LogWriter() {
  if (thread_.joinable()) (void)Stop();
}

void LogWriter::Start(Hooks hooks) {
  hooks_ = std::move(hooks);
  thread_ = std::thread([this] { Loop(); });
}

void LogWriter::Enqueue(WorkItem item) {
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    queue_.push_back(std::move(item));
  }
  queue_cv_.notify_one();
}

void LogWriter::CommitAsync(TxnRequest txn, CommitCallback done) {
  WorkItem item;
  item.kind = WorkItem::Kind::kCommit;
  item.txn = std::move(txn);
  item.done = std::move(done);
  Enqueue(std::move(item));
}

Result<uint64_t> LogWriter::Wait(WorkItem item) {
  std::promise<Result<uint64_t>> p;
  auto f = p.get_future();
  item.reply = [&p](Result<uint64_t> r) { p.set_value(std::move(r)); };
  Enqueue(std::move(item));
  return f.get();
}

Result<uint64_t> LogWriter::Control(ControlFn fn) {
  WorkItem item;
  item.kind = WorkItem::Kind::kControl;
  item.run = std::move(fn);
  return Wait(std::move(item));
}

Result<uint64_t> LogWriter::Stop() {
  WorkItem item;
  item.kind = WorkItem::Kind::kStop;
  Result<uint64_t> r = Wait(std::move(item));
  thread_.join();
  return r;
}

void LogWriter::Loop() {
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
      if (item.kind == WorkItem::Kind::kControl) {
        item.reply(item.run());
        continue;
      }
      stop = true;
      Result<uint64_t> r = hooks_.on_stop();
      if (writer_) {
        Status c = writer_->Close();
        if (!c.ok() && r.ok()) r = c;
      }
      item.reply(r.ok() ? Result<uint64_t>(uint64_t{0}) : Result<uint64_t>(r.status()));
    }
    items.clear();
    (void)FlushBatch();
    if (!stop) hooks_.on_idle();
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

uint64_t LogWriter::CurrentVersion(const std::string& key) const {
  auto o = overlay_.find(key);
  if (o != overlay_.end()) return o->second;
  return store_->VersionUnlocked(key);  // only this thread writes the state
}

void LogWriter::AddCommit(WorkItem& item) {
  if (restoring_) {
    item.done(InRestoreModeStatus(opts_.stone_name), 0);
    return;
  }
  if (suspended_) {
    item.done(CommitsSuspendedStatus(opts_.stone_name), 0);
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

Status LogWriter::FlushBatch() {
  if (!writer_ || !writer_->HasPending()) return Status::OK();
  Status s = writer_->Flush();
  overlay_.clear();
  if (!s.ok()) {
    Status err = s.IsNoSpace()
        ? Status::NoSpace(fmt::format("commit failed, nothing was written: {}. Free space "
                                      "there; the stone keeps running", s.message()))
        : Status::IOError(fmt::format("commit failed, nothing was written: {}", s.message()));
    TS_LOG_ERROR("{}", err.message());
    RecordError(err.message());
    for (Pending& p : batch_) p.done(err, 0);
    batch_.clear();
    return s;
  }
  store_->Write([&](StateEdit* state, uint64_t* applied_tid, RestoreProgress*) {
    for (Pending& p : batch_) {
      for (WriteOp& w : p.writes) {
        if (w.kind == WriteOp::Kind::kPut) {
          state->Put(std::move(w.key), std::move(w.value), p.tid);
        } else {
          state->Erase(w.key);
        }
      }
    }
    *applied_tid = writer_->last_tid();
  });
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

Status LogWriter::CloseWriter() {
  if (!writer_) return Status::OK();
  Status c = writer_->Close();
  if (!c.ok()) return c;
  writer_.reset();
  return Status::OK();
}

void LogWriter::SyncAppliedTid() {
  uint64_t tid = writer_->last_tid();
  store_->Write([tid](StateEdit*, uint64_t* applied_tid, RestoreProgress*) { *applied_tid = tid; });
}

void LogWriter::PublishEnd() {
  feed_->Publish(DurableEnd{writer_->lineage(), writer_->end(), writer_->last_tid(),
                            writer_->chain(), writer_->last_timestamp_us()});
}

Result<uint64_t> LogWriter::NewLog() {
  if (!writer_) return NoTranlogsInRestoreModeStatus(opts_.stone_name);
  Status s = writer_->Rotate(NowMicros());
  SyncAppliedTid();
  PublishEnd();
  if (!s.ok()) return s;
  TS_LOG_INFO("started tranlog {}", writer_->file_id());
  return writer_->file_id();
}

// Runs between batches (the pending one was just flushed), so no commit is half applied
// and the durable end's TID is the state's.
Result<StateSnapshot> LogWriter::SnapshotNow() {
  StateSnapshot s;
  uint64_t state_tid = 0;
  std::shared_ptr<SnapshotScan> scan =
      store_->OpenScan([&](uint64_t applied_tid, const RestoreProgress& restore) {
        // In restore mode the restored position moves under the state lock held here.
        s.at = restoring_ ? restore.at.AsEnd() : feed_->end();
        state_tid = applied_tid;
      });
  if (s.at.tid != state_tid) {
    return Status::Busy(fmt::format("the state (TID {}) and the tranlog end (TID {}) "
                                    "disagree; retry", state_tid, s.at.tid));
  }
  s.commits_suspended = suspended_;
  s.state = std::move(scan);
  s.write_bytes_per_s = opts_.state_write_bytes_per_s;
  return s;
}

void LogWriter::RecordError(const std::string& message) {
  std::lock_guard<std::mutex> l(stats_mu_);
  stats_.last_error = message;
}

EngineStats LogWriter::stats() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  EngineStats s = stats_;
  s.keys = store_->keys();
  return s;
}

}  // namespace tranship
