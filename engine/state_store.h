#pragma once
// The state store: the in-memory ordered key/value state, the TID it is at, and in
// restore mode the restored position that goes with it, under one reader/writer lock.
//
// Readers (Get, Scan) take the lock shared. The log writer (engine/log_writer.h) is the
// only thread that writes the state of a primary: it applies each durable batch under
// the lock held exclusively, and may read the state without the lock. In restore mode
// there is no log writer; restore batches (Engine::ApplyRestored) write the state and
// the position together. Every change goes through a StateEdit, so that the consistent
// scans (engine/snapshot_scan.h) that the checkpointer, full backups and the digest open
// read the state as it was at their TID while commits go on. What is written here next
// goes to readers, and through those scans to the extent (engine/checkpointer.h), to
// backup files and to digests.

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/restore_mode.h"
#include "engine/snapshot_scan.h"
#include "engine/state_map.h"
#include "tranlog/commit.h"

namespace tranship {

class StateStore {
 public:
  StateStore(StateMap state, uint64_t tid, RestoreProgress restore);

  ReadResult Get(std::string_view key) const;
  // Up to `limit` keys >= `start` in order.
  std::vector<std::pair<std::string, std::string>> Scan(std::string_view start,
                                                        size_t limit) const;
  uint64_t keys() const;
  RestoreProgress restore_progress() const;

  // Runs `fn(edit, &applied_tid, &restore)` with the lock held exclusively.
  template <typename Fn>
  auto Write(Fn&& fn) {
    std::unique_lock l(core_->mu);
    StateEdit edit(&core_->map, &core_->scans);
    return fn(&edit, &core_->applied_tid, &core_->restore);
  }
  // Opens a consistent scan of the state as it is now, and runs
  // `capture(applied_tid, restore)` under the same lock, for what goes with that state.
  template <typename Fn>
  std::shared_ptr<SnapshotScan> OpenScan(Fn&& capture) const {
    std::unique_lock l(core_->mu);
    capture(core_->applied_tid, core_->restore);
    return SnapshotScan::OpenLocked(core_);
  }

  // REQUIRES: called on the log-writer thread of a primary, the only writer: no lock.
  // The version of `key` in the state (0: absent).
  uint64_t VersionUnlocked(const std::string& key) const {
    auto it = core_->map.find(key);
    return it == core_->map.end() ? 0 : it->second.version;
  }

 private:
  const std::shared_ptr<StateCore> core_;
};

}  // namespace tranship
