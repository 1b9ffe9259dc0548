#pragma once
// The checkpointer: writes a checkpoint record through the log writer, takes the state
// and its position together, and hands them to a background thread that writes the
// extent (engine/extent.h: extent0.dbf, new file, fsync, rename, fsync dir), so commits
// do not wait for the extent's disk writes. Recovery (engine/recovery.h) loads that
// extent at the next open and replays the tranlogs after its position.
//
// REQUIRES: every method but the counters runs on the log-writer thread. At most one
// extent write runs at a time; each new checkpoint first waits for the previous one.
// The extent thread takes only the log writer's stats lock, to record a failure.

#include <atomic>
#include <cstdint>
#include <thread>

#include "base/env.h"
#include "base/status.h"
#include "engine/log_writer.h"
#include "engine/state_store.h"

namespace tranship {

class Checkpointer {
 public:
  Checkpointer(Env* env, const EngineOptions& opts, LogWriter* log, StateStore* store,
               uint64_t tid);
  ~Checkpointer() { Join(); }

  // Writes a checkpoint record (not in restore mode), takes the state and hands it to
  // the extent thread. With `wait`, returns the extent write's result. With
  // `state_frozen` (commits suspended: nothing changes the state until resume-commits or
  // restore mode, which first wait for the extent write), the thread reads the state in
  // place instead of a copy, so that suspending a large stone takes no copy.
  Result<uint64_t> Run(bool wait, uint8_t record_flags = 0, bool state_frozen = false);
  // Waits for the extent write in progress, if any.
  void Join();
  // The periodic checkpoint, when the interval has passed and there is something new.
  void RunIfDue();
  // Whether the state is exactly that of the last checkpoint of a suspended primary.
  bool SuspendedAndIdle();
  // Starts the periodic interval again from now (no checkpoint written).
  void RestartInterval();
  // The last extent write's result.
  const Status& status() const { return status_; }

  // Any thread.
  uint64_t last_checkpoint_tid() const { return last_checkpoint_tid_; }
  uint64_t last_checkpoint_us() const { return last_checkpoint_us_; }

 private:
  Env* const env_;
  const EngineOptions& opts_;
  LogWriter* const log_;
  StateStore* const store_;

  std::thread thread_;
  Status status_;                                    // of the last extent write
  std::atomic<uint64_t> last_checkpoint_us_{0};
  std::atomic<uint64_t> last_checkpoint_tid_{0};     // of the last extent written
  uint64_t checkpoint_record_tid_ = 0;               // of the last checkpoint record
};

}  // namespace tranship
