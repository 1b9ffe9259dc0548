#include "engine/checkpointer.h"

#include <pthread.h>

#include <memory>

#include "base/clock.h"
#include "base/log.h"
#include "engine/extent.h"

namespace tranship {

Checkpointer::Checkpointer(Env* env, const EngineOptions& opts, LogWriter* log,
                           StateStore* store, uint64_t tid)
    : env_(env), opts_(opts), log_(log), store_(store) {
  last_checkpoint_tid_ = tid;
  checkpoint_record_tid_ = tid;
  last_checkpoint_us_ = NowMicros();
}

void Checkpointer::RestartInterval() { last_checkpoint_us_ = NowMicros(); }

void Checkpointer::Join() {
  if (thread_.joinable()) thread_.join();
}

bool Checkpointer::SuspendedAndIdle() {
  tranlog::Writer* w = log_->writer();
  return log_->suspended() && w && w->last_tid() == checkpoint_record_tid_ && !w->HasPending();
}

void Checkpointer::RunIfDue() {
  if (opts_.checkpoint_interval_s > 0 && !SuspendedAndIdle() &&
      NowMicros() - last_checkpoint_us_ >= uint64_t{opts_.checkpoint_interval_s} * 1000000u) {
    (void)Run(/*wait=*/false);
  }
}

Result<uint64_t> Checkpointer::Run(bool wait, uint8_t record_flags, bool state_frozen) {
  Join();
  ExtentHeader h;
  std::shared_ptr<StateMap> snapshot;
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
    // Writes happen on this thread only.
    snapshot = state_frozen ? std::shared_ptr<StateMap>(store_->unlocked_mutable(),
                                                        [](StateMap*) {})
                            : std::make_shared<StateMap>(store_->unlocked());
  } else {
    // Restore mode: restore batches write the state from another thread; the state and
    // the restored position are taken together under the lock.
    store_->Read([&](const StateMap& state, uint64_t, const RestoreProgress& restore) {
      const RestoredPosition& at = restore.at;
      h.lineage = at.lineage;
      h.tid = at.tid;
      h.replay_from = at.pos;
      h.chain = at.chain;
      h.last_commit_us = at.commit_time_us;
      h.flags = kExtentFlagRestoring | (restore.failover_tid ? kExtentFlagCommitsSuspended : 0);
      snapshot = std::make_shared<StateMap>(state);
    });
  }
  last_checkpoint_us_ = NowMicros();
  uint64_t tid = h.tid;
  thread_ = std::thread([this, h, snapshot] {
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
      log_->RecordError(s.message());
    }
    status_ = s;
  });
  if (!wait) return tid;
  Join();
  if (!status_.ok()) return status_;
  return tid;
}

}  // namespace tranship
