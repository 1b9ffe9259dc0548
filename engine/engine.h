#pragma once
// The stone's storage engine: an in-memory ordered key/value state made durable by
// tranlogs and checkpoints.
//
// Commits go through one log-writer thread that batches every transaction queued while
// the previous batch was being synced (group commit): one write and one fdatasync per
// batch. A transaction's writes become visible to readers, and its caller is answered,
// only after its record is durable. Checkpoints write the whole state to
// extent/extent0.dbf (new file, fsync, rename, fsync dir) with the tranlog position to
// replay from; recovery loads the extent and replays the tranlogs after it, cutting a
// torn tail off the newest file.
//
// Thread-safety: every public method may be called from any thread.
//
// The parts behind this interface, and the order they take their locks in, are listed
// in engine/engine.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/digest.h"
#include "engine/extent.h"
#include "engine/options.h"
#include "engine/restore_mode.h"
#include "engine/snapshot_scan.h"
#include "tranlog/commit.h"
#include "tranlog/types.h"

namespace tranship {

struct TranlogFileInfo {
  uint64_t file_id = 0;
  std::string path;
  uint64_t bytes = 0;
};

class Engine {
 public:
  using CommitCallback = std::function<void(Status status, uint64_t tid)>;
  using DurableCallback = std::function<void(const DurableEnd& end)>;

  // Creates a new repository: a new lineage, tranlog 1 beginning with a lineage-start
  // record, and an extent. AlreadyExists if extent_dir already holds one.
  static Status Create(const EngineOptions& options);

  // Opens and recovers a repository. Takes the exclusive lock (Busy with the holder's
  // pid if another process has it). Recovery = load the extent + replay the tranlogs
  // after its position; without an extent, replay from tranlog 1 when all files from 1
  // are present. After an unclean stop the newest file's torn tail is cut.
  // A repository that cannot be recovered (a gap, damage before the newest file's end)
  // fails with reason kReasonCannotRecover and the fact alone: the caller that knows the
  // operator's commands adds what to do (stone/stone.h).
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);

  virtual ~Engine() = default;

  // Clean stop: waits for queued commits, checkpoints, writes the clean-shutdown
  // marker, releases the lock. Also done by the destructor if not called.
  virtual Status Close() = 0;

  // Queues a transaction. `done` runs exactly once, on the log-writer thread, after the
  // record is durable and applied (ok, tid) or when it failed (Conflict, NoSpace, Busy
  // in restore mode or while commits are suspended, ...). `done` must not block.
  virtual void CommitAsync(TxnRequest txn, CommitCallback done) = 0;
  // Blocking form of CommitAsync. Returns the commit's TID.
  virtual Result<uint64_t> Commit(TxnRequest txn) = 0;

  // Reads the durable state.
  virtual ReadResult Get(std::string_view key) const = 0;
  // Up to `limit` keys >= `start` in order.
  virtual std::vector<std::pair<std::string, std::string>> Scan(std::string_view start,
                                                                size_t limit) const = 0;

  // Writes a checkpoint record and the extent. Returns the checkpoint's TID.
  virtual Result<uint64_t> Checkpoint() = 0;
  // Ends the current tranlog with a log switch and starts the next file. Returns the
  // new file id.
  virtual Result<uint64_t> StartNewLog() = 0;

  virtual DurableEnd durable_end() const = 0;
  // `fn` runs on the log-writer thread each time the durable end advances (and once
  // right away with the current end). It must not block or call back into the engine.
  virtual uint64_t Subscribe(DurableCallback fn) = 0;
  virtual void Unsubscribe(uint64_t id) = 0;

  // Copies the state on the log-writer thread between two batches, so that the copy and
  // its position describe the same TID; commits go on while the caller uses the copy.
  // Costs one copy of the state in memory, as a checkpoint does.
  virtual Result<StateSnapshot> SnapshotState() = 0;

  // ---- Restore mode and failover (docs/standby.md) ----
  //
  // A stone is a primary (commits accepted unless suspended) or in restore mode (its
  // extent has kExtentFlagRestoring, or it was opened with restore_mode): it writes no
  // tranlogs, serves reads, and its state is "the history up to restored_position()"
  // of some primary. Restored records come in through ApplyRestored; CommitRestore
  // turns the stone into a primary under a new lineage.

  // Writes an extent in restore mode for an offline repository (e.g. seeded from a
  // backup): `state` is the whole state at `pos`. The extent directory must hold no
  // extent yet, or `replace` must be set (then what restore remembered of the old state,
  // restore/control.h's markers, is the caller's to forget). The next Open comes up in
  // restore mode at `pos`, replaying none of the stone's own tranlogs.
  static Status CreateRestoring(const EngineOptions& options, const StateMap& state,
                                const RestoredPosition& pos, bool replace);

  virtual bool in_restore_mode() const = 0;
  // In restore mode: the restored history's end (durable_end() reports the same).
  virtual RestoreProgress restore_progress() const = 0;
  // Restore mode only (Busy otherwise). Runs `fn` with the state locked for writing;
  // `fn` extends the restored history in `state` and `progress` (restore/apply.h's
  // rules), and the durable end follows. Readers wait meanwhile: keep a batch to about
  // a thousand records. One caller at a time (restore's RestoreControl sees to it).
  virtual Status ApplyRestored(
      const std::function<void(StateEdit* state, RestoreProgress* progress)>& fn) = 0;
  // Replaces the state and position of a running stone and puts it in restore mode
  // (restore-from-backup), checkpointing at once. Busy while a restore runs.
  virtual Status EnterRestoreMode(StateMap state, const RestoredPosition& pos) = 0;
  // Leaves restore mode: creates own tranlog `file_id` (above every archived and own id)
  // whose header continues the restored history (first TID t+1, start chain = chain at
  // t), writes a lineage-start record of a new lineage (parent: the restored lineage,
  // end and TID), checkpoints, and accepts commits. Returns the new durable end.
  virtual Result<DurableEnd> CommitRestore(uint64_t file_id) = 0;
  // Primary only: refuses new commits and writes a checkpoint record marked failover;
  // survives restarts until ResumeCommits. Both return the TID of the record written.
  virtual Result<uint64_t> SuspendCommits() = 0;
  virtual Result<uint64_t> ResumeCommits() = 0;
  // Newest own tranlog file id (0 if none).
  virtual uint64_t newest_tranlog_id() const = 0;
  virtual const EngineOptions& options() const = 0;

  virtual Digest ComputeDigest() const = 0;
  virtual std::vector<TranlogFileInfo> TranlogFiles() const = 0;
  virtual EngineStats stats() const = 0;
};

}  // namespace tranship
