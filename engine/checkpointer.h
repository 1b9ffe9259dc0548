#pragma once
// The checkpointer: writes a checkpoint record through the log writer, opens a
// consistent scan of the state at that record (engine/snapshot_scan.h: no copy), and
// queues the extent write from it (engine/extent.h: extent0.dbf, new file, fsync,
// rename, fsync dir) on the extent thread, while commits go on. Recovery
// (engine/recovery.h) loads that extent at the next open and replays the tranlogs after
// its position.
//
// One extent write runs at a time, in TID order. A checkpoint started while one runs
// waits in a queue of one: a newer checkpoint takes its place there, and its extent
// covers the older one's. So the log-writer thread never waits for an extent: those who
// need the extent written (`admin checkpoint`, the stop, entering restore mode) wait
// for it with Wait.
//
// REQUIRES: Start, Run, RunIfDue, Join and SuspendedAndIdle run on the log-writer
// thread (or after it stopped). Wait, status and the counters may run on any thread.
// Locks: mu_ for the queue and the results; the extent thread takes the state lock
// (through the scan) and the log writer's stats lock without holding mu_.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/env.h"
#include "base/status.h"
#include "engine/extent.h"
#include "engine/log_writer.h"
#include "engine/state_store.h"

namespace tranship {

class Checkpointer {
 public:
  Checkpointer(Env* env, const EngineOptions& opts, LogWriter* log, StateStore* store,
               uint64_t tid);
  ~Checkpointer();

  struct Started {
    uint64_t tid = 0;  // the checkpoint's TID
    uint64_t seq = 0;  // for Wait
  };
  // Writes a checkpoint record (not in restore mode), opens a scan of the state at it
  // and queues the extent write, paced (EngineOptions::state_write_bytes_per_s) unless
  // `full_speed`. Returns without waiting for the extent.
  Result<Started> Start(uint8_t record_flags = 0, bool full_speed = false);
  // Waits until the extent write of checkpoint `seq`, or of a later one that took its
  // place, is done; its status.
  Status Wait(uint64_t seq);
  // Start at full speed, then Wait: only where no commit waits for the extent (the
  // stop, entering restore mode).
  Result<uint64_t> Run(uint8_t record_flags = 0);
  // Waits until every extent write queued is done.
  void Join();
  // The periodic checkpoint, when the interval has passed, there is something new and
  // no extent write runs.
  void RunIfDue();
  // Whether the state is exactly that of the last checkpoint of a suspended primary.
  bool SuspendedAndIdle();
  // Starts the periodic interval again from now (no checkpoint written).
  void RestartInterval();
  // The last extent write's result.
  Status status() const;

  // Any thread.
  uint64_t last_checkpoint_tid() const { return last_checkpoint_tid_; }
  uint64_t last_checkpoint_us() const { return last_checkpoint_us_; }

 private:
  struct Job {
    ExtentHeader header;
    std::shared_ptr<SnapshotScan> scan;
    uint64_t seq = 0;
    uint64_t bytes_per_s = 0;
  };
  void Queue(Job job);
  void Work();  // the extent thread: one for the engine's life, so one malloc arena

  Env* const env_;
  const EngineOptions& opts_;
  LogWriter* const log_;
  StateStore* const store_;

  std::thread thread_;                               // started by the first Queue
  uint64_t seq_ = 0;                                 // log-writer thread only
  uint64_t checkpoint_record_tid_ = 0;               // of the last checkpoint record
  std::atomic<uint64_t> last_checkpoint_us_{0};
  std::atomic<uint64_t> last_checkpoint_tid_{0};     // of the last extent written

  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::optional<Job> pending_;                       // GUARDED_BY(mu_)
  std::condition_variable work_cv_;
  bool running_ = false;                             // GUARDED_BY(mu_): a write runs
  bool stop_ = false;                                // GUARDED_BY(mu_)
  uint64_t done_seq_ = 0;                            // GUARDED_BY(mu_): last write finished
  Status status_;                                    // GUARDED_BY(mu_): of that write
};

}  // namespace tranship
