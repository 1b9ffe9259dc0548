#pragma once
// Mode changes: suspend and resume commits (planned failover), enter restore mode
// (restore-from-backup), apply restored records, and commit-restore (leave restore mode
// under a new lineage). docs/standby.md tells the whole story.
//
// Each change but ApplyRestored runs on the log-writer thread between two batches. A
// suspension or a resume is a record in the tranlog that the logsender ships, so a
// standby replays it; a commit-restore starts a new tranlog whose lineage-start record
// is what the stone's own logsender ships next. Entering restore mode checkpoints at once.
//
// Locks: restore_mu_ lets one ApplyRestored or restore-mode change run at a time; it is
// taken before the state store's lock and before the durable end's locks.

#include <cstdint>
#include <functional>
#include <mutex>

#include "base/env.h"
#include "base/status.h"
#include "engine/checkpointer.h"
#include "engine/durable_end.h"
#include "engine/log_writer.h"
#include "engine/restore_mode.h"
#include "engine/state_store.h"

namespace tranship {

class ModeChanges {
 public:
  ModeChanges(Env* env, const EngineOptions& opts, LogWriter* log, Checkpointer* ckpt,
              StateStore* store, DurableEndFeed* feed)
      : env_(env), opts_(opts), log_(log), ckpt_(ckpt), store_(store), feed_(feed) {}

  // Any thread (Engine::ApplyRestored).
  Status ApplyRestored(const std::function<void(StateEdit* state, RestoreProgress* progress)>& fn);

  // REQUIRES: called on the log-writer thread.
  Result<uint64_t> Suspend();
  Result<uint64_t> Resume();
  Result<uint64_t> CommitRestore(uint64_t file_id);
  Result<uint64_t> EnterRestore(StateMap* state, const RestoredPosition& pos);

 private:
  Env* const env_;
  const EngineOptions& opts_;
  LogWriter* const log_;
  Checkpointer* const ckpt_;
  StateStore* const store_;
  DurableEndFeed* const feed_;
  std::mutex restore_mu_;  // one ApplyRestored / mode change at a time
};

}  // namespace tranship
