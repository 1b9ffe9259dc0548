#include "engine/checkpointer.h"

#include <pthread.h>

#include <memory>

#include "base/background.h"
#include "base/clock.h"
#include "base/log.h"

namespace tranship {

Checkpointer::Checkpointer(Env* env, const EngineOptions& opts, LogWriter* log,
                           StateStore* store, uint64_t tid)
    : env_(env), opts_(opts), log_(log), store_(store) {
  last_checkpoint_tid_ = tid;
  checkpoint_record_tid_ = tid;
  last_checkpoint_us_ = NowMicros();
}

void Checkpointer::RestartInterval() { last_checkpoint_us_ = NowMicros(); }

Status Checkpointer::status() const {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

Checkpointer::~Checkpointer() {
  Join();
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::Join() {
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [this] { return !running_ && !pending_; });
}

Status Checkpointer::Wait(uint64_t seq) {
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [&] { return done_seq_ >= seq; });
  return status_;
}

bool Checkpointer::SuspendedAndIdle() {
  tranlog::Writer* w = log_->writer();
  return log_->suspended() && w && w->last_tid() == checkpoint_record_tid_ && !w->HasPending();
}

void Checkpointer::RunIfDue() {
  if (opts_.checkpoint_interval_s == 0 || SuspendedAndIdle() ||
      NowMicros() - last_checkpoint_us_ < uint64_t{opts_.checkpoint_interval_s} * 1000000u) {
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (running_ || pending_) return;  // a large state's extent takes longer than the interval
  }
  (void)Start();
}

Result<uint64_t> Checkpointer::Run(uint8_t record_flags) {
  Result<Started> started = Start(record_flags, /*full_speed=*/true);
  if (!started.ok()) return started.status();
  TRANSHIP_RETURN_IF_ERROR(Wait(started->seq));
  return started->tid;
}

Result<Checkpointer::Started> Checkpointer::Start(uint8_t record_flags, bool full_speed) {
  Job job;
  job.bytes_per_s = full_speed ? 0 : opts_.state_write_bytes_per_s;
  ExtentHeader& h = job.header;
  if (tranlog::Writer* w = log_->writer()) {
    w->Add(tranlog::RecordType::kCheckpoint, record_flags, NowMicros(), Bytes());
    Status s = w->Flush();
    if (!s.ok()) {
      TS_LOG_ERROR("checkpoint failed: {}", s.ToString());
      return s;
    }
    log_->SyncAppliedTid();
    log_->PublishEnd();
    h.lineage = w->lineage();
    h.tid = w->last_tid();
    h.replay_from = w->end();
    h.chain = w->chain();
    h.last_commit_us = w->last_timestamp_us();
    h.flags = log_->suspended() ? kExtentFlagCommitsSuspended : 0;
    checkpoint_record_tid_ = h.tid;
    // Writes happen on this thread only: the state is at h.tid now.
    job.scan = store_->OpenScan([](uint64_t, const RestoreProgress&) {});
  } else {
    // Restore mode: restore batches write the state from another thread; the state and
    // the restored position are taken together under the lock.
    job.scan = store_->OpenScan([&](uint64_t, const RestoreProgress& restore) {
      const RestoredPosition& at = restore.at;
      h.lineage = at.lineage;
      h.tid = at.tid;
      h.replay_from = at.pos;
      h.chain = at.chain;
      h.last_commit_us = at.commit_time_us;
      h.flags = kExtentFlagRestoring | (restore.failover_tid ? kExtentFlagCommitsSuspended : 0);
    });
  }
  last_checkpoint_us_ = NowMicros();
  job.seq = ++seq_;
  Started started{h.tid, job.seq};
  Queue(std::move(job));
  return started;
}

void Checkpointer::Queue(Job job) {
  std::optional<Job> replaced;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pending_) {
      TS_LOG_INFO("checkpoint at TID {} waits for the extent write in progress; it replaces "
                  "the one queued at TID {}", job.header.tid, pending_->header.tid);
    }
    replaced = std::move(pending_);
    pending_ = std::move(job);
  }
  // `replaced` (its scan) goes without mu_ held: a scan's end takes the state lock.
  replaced.reset();
  work_cv_.notify_one();
  if (!thread_.joinable()) thread_ = std::thread([this] { Work(); });
}

void Checkpointer::Work() {
  pthread_setname_np(pthread_self(), "tranship-ckpt");
  LowerThreadPriority();
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    work_cv_.wait(l, [this] { return stop_ || pending_; });
    if (!pending_) return;  // stop_
    Job job = std::move(*pending_);
    pending_.reset();
    running_ = true;
    l.unlock();
    const ExtentHeader& h = job.header;
    uint64_t t0 = MonotonicNanos();
    Status s = WriteExtent(env_, opts_.extent_dir, h, *job.scan, job.bytes_per_s);
    if (s.ok()) {
      last_checkpoint_tid_ = h.tid;
      TS_LOG_INFO("checkpoint at TID {}: {} keys written in {:.1f} ms", h.tid, job.scan->keys(),
                  (MonotonicNanos() - t0) / 1e6);
    } else {
      TS_LOG_ERROR("checkpoint at TID {} failed, the previous extent stays valid: {}", h.tid,
                   s.ToString());
      log_->RecordError(s.message());
    }
    job.scan.reset();
    l.lock();
    done_seq_ = job.seq;
    status_ = s;
    running_ = false;
    done_cv_.notify_all();
  }
}

}  // namespace tranship
