#pragma once
// Continuous restore: a thread that keeps a stone in restore mode up to date with its
// archive directories (docs/standby.md).
//
// The thread applies batches of complete records as long as there are any, then
// sleeps until woken (Wake: the stone server got an archive notify from a logreceiver)
// or 100 ms pass (the fallback for archives filled by other means), and looks again.
//
// It ends by itself at a gap, a fork in time or damage, and after replaying a failover
// checkpoint once it has caught up, unless a resume-commits record already followed it.
// RequestStop(finish=true) (stop-continuous-restore) applies every complete record
// present, then ends; RequestStop(finish=false) (the stone stopping) ends after the
// current batch.
//
// Thread-safety: every method may be called from any thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "restore/archive.h"

namespace tranship {

struct ContinuousState {
  bool running = false;
  bool caught_up = false;       // the last look found no complete record to apply
  uint64_t caught_up_us = 0;    // when it last caught up (wall clock)
  uint64_t applied = 0;
  uint64_t files = 0;
  std::string file;             // the file being read
  // Once ended:
  ReplayStop stop = ReplayStop::kNone;
  bool failover = false;        // ended after a failover checkpoint
  bool requested = false;       // ended by RequestStop
  std::string why;              // one line
  std::string missing;          // after a gap
};

class ContinuousRestore {
 public:
  // The poll interval when no wake-up comes: the latency bound for archives nobody
  // notifies about, and cheap (a stat or two per directory).
  static constexpr int kPollMs = 100;
  // Records per batch: a batch holds the state lock, so readers wait at most about a
  // millisecond.
  static constexpr size_t kBatchRecords = 1024;

  // `on_end` runs on the thread when it ends (not for RequestStop(false)).
  // `pending_failover_tid`: a failover checkpoint the restored history already ends at
  // when an operator starts continuous restore to follow what comes after it (the new
  // primary's lineage); it does not stop the run again. 0 when resuming after a restart:
  // then a pending failover checkpoint stops it, as it would have before the restart.
  ContinuousRestore(RestoreTarget* target, Env* env, ArchiveSource source,
                    std::function<void(const ContinuousState&)> on_end,
                    uint64_t pending_failover_tid = 0);
  ~ContinuousRestore();

  void Start();
  void Wake();
  void RequestStop(bool finish);
  void Join();
  ContinuousState state() const;
  const ArchiveSource& source() const { return source_; }

 private:
  void Run();

  RestoreTarget* target_;
  ArchiveSource source_;
  ArchiveReplayer replayer_;
  std::function<void(const ContinuousState&)> on_end_;
  uint64_t pending_failover_tid_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_finish_ = false;
  bool stop_now_ = false;
  ContinuousState state_;
};

}  // namespace tranship
