#pragma once
// The engine as restore works on it: a repository whose restored history restore
// extends, and which commit-restore turns into a primary. Restore names only this, not
// the engine: the stone (stone/stone.h) implements it over its Engine, and tests can
// over anything that keeps a state and a RestoreProgress.
//
// Records restore applies reach the state through ApplyRestored; the target's durable
// end follows, which the stone server announces to the standby's own logsenders
// (a cascade) and to `restore-status`.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/extent.h"
#include "engine/restore_mode.h"
#include "engine/snapshot_scan.h"
#include "tranlog/types.h"

namespace tranship {

// Where the repository keeps its files, and its name in operator messages.
struct RepositoryInfo {
  std::string stone_name;
  std::string extent_dir;                 // restore keeps its markers here
  std::vector<std::string> tranlog_dirs;  // the stone's own tranlogs
  std::string tranlog_prefix;
};

class RestoreTarget {
 public:
  virtual ~RestoreTarget() = default;

  virtual const RepositoryInfo& repository() const = 0;
  virtual bool in_restore_mode() const = 0;
  // On a primary: commits are suspended (suspend-commits).
  virtual bool commits_suspended() const = 0;
  virtual RestoreProgress restore_progress() const = 0;
  // Restore mode only (Busy otherwise): runs `fn` with the state locked for writing, to
  // extend the restored history (restore/apply.h). One caller at a time.
  virtual Status ApplyRestored(
      const std::function<void(StateEdit* state, RestoreProgress* progress)>& fn) = 0;
  // Newest own tranlog file id (0 if none).
  virtual uint64_t newest_tranlog_id() const = 0;
  // Leaves restore mode under a new lineage whose first tranlog is `file_id`.
  virtual Result<DurableEnd> CommitRestore(uint64_t file_id) = 0;
  // The whole state at one TID and where that TID sits (what a full backup writes);
  // commits go on meanwhile.
  virtual Result<StateSnapshot> SnapshotState() = 0;
};

}  // namespace tranship
