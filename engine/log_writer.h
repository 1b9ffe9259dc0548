#pragma once
// The log writer and group commit: one thread that takes everything queued, validates
// and encodes the commits into one batch, writes and fdatasyncs it with one call, applies
// it to the state store (engine/state_store.h) and only then answers the callers.
//
// A commit's record leaves here for the tranlog file on disk (tranlog/writer.h). Once it
// is synced the durable end advances (engine/durable_end.h): the stone server announces
// it, and the logsender reads the files up to it and ships the new records.
//
// Control work (checkpoints, log switches, mode changes, snapshots) runs on this thread
// too, between two batches, so it sees no half-applied commit. The log writer accepts or
// refuses commits by its mode: in restore mode there is no tranlog writer and no commit.
//
// Locks: queue_mu_ for the queue; stats_mu_ for the counters, held while the key count
// is read under the state store's lock (stats_mu_ before the state lock). The batch, the
// overlay and the tranlog writer belong to the thread and take no lock.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "engine/durable_end.h"
#include "engine/extent.h"
#include "engine/options.h"
#include "engine/state_store.h"
#include "tranlog/commit.h"
#include "tranlog/writer.h"

namespace tranship {

class LogWriter {
 public:
  using CommitCallback = std::function<void(Status status, uint64_t tid)>;
  using ControlFn = std::function<Result<uint64_t>()>;

  struct Hooks {
    ControlFn on_stop;            // the clean stop's last record (a checkpoint)
    std::function<void()> on_idle;  // after each round of work (periodic checkpoints)
  };

  // `writer` is null in restore mode.
  LogWriter(const EngineOptions& opts, StateStore* store, DurableEndFeed* feed,
            std::unique_ptr<tranlog::Writer> writer, bool restoring, bool suspended);
  ~LogWriter();

  void Start(Hooks hooks);
  // Queues a commit; `done` runs once on this thread (see Engine::CommitAsync).
  void CommitAsync(TxnRequest txn, CommitCallback done);
  // Runs `fn` on this thread after the pending batch is flushed, and waits for it.
  Result<uint64_t> Control(ControlFn fn);
  // Stops the thread after the work queued before it: flushes, runs on_stop, closes the
  // tranlog writer. Work queued later is refused. Returns on_stop's result.
  Result<uint64_t> Stop();

  // ---- REQUIRES: called on the log-writer thread ----
  tranlog::Writer* writer() { return writer_.get(); }
  void ReplaceWriter(std::unique_ptr<tranlog::Writer> w) { writer_ = std::move(w); }
  Status CloseWriter();
  // Records that change no keys (checkpoint, log switch) still advance the state's TID.
  void SyncAppliedTid();
  // Publishes the tranlog writer's end as the durable end.
  void PublishEnd();
  // Ends the current tranlog with a log switch and starts the next file.
  Result<uint64_t> NewLog();
  // A consistent scan of the state with its durable end (Engine::SnapshotState).
  Result<StateSnapshot> SnapshotNow();

  // Any thread.
  bool restoring() const { return restoring_; }
  bool suspended() const { return suspended_; }
  void set_restoring(bool v) { restoring_ = v; }
  void set_suspended(bool v) { suspended_ = v; }
  void RecordError(const std::string& message);
  // The counters and the key count (restore_mode, suspended and checkpoints not set).
  EngineStats stats() const;

 private:
  struct WorkItem {
    enum class Kind { kCommit, kControl, kStop };
    Kind kind = Kind::kCommit;
    TxnRequest txn;
    CommitCallback done;                          // kCommit
    ControlFn run;                                // kControl
    std::function<void(Result<uint64_t>)> reply;  // kControl, kStop
  };
  struct Pending {
    CommitCallback done;
    uint64_t tid;
    std::vector<WriteOp> writes;
  };

  void Enqueue(WorkItem item);
  Result<uint64_t> Wait(WorkItem item);
  void Loop();
  void AddCommit(WorkItem& item);
  uint64_t CurrentVersion(const std::string& key) const;
  // Writes and syncs the pending batch, then applies and acknowledges it.
  Status FlushBatch();

  const EngineOptions& opts_;
  StateStore* const store_;
  DurableEndFeed* const feed_;
  Hooks hooks_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<WorkItem> queue_;  // GUARDED_BY(queue_mu_)

  // Owned by the log-writer thread.
  std::unique_ptr<tranlog::Writer> writer_;
  std::vector<Pending> batch_;
  std::unordered_map<std::string, uint64_t> overlay_;  // versions written by the batch
  std::string payload_;

  std::atomic<bool> restoring_;  // restore mode: no writer_, no commits
  std::atomic<bool> suspended_;  // commits suspended for failover

  mutable std::mutex stats_mu_;
  EngineStats stats_;  // GUARDED_BY(stats_mu_)

  std::thread thread_;
};

}  // namespace tranship
