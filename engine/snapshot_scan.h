#pragma once
// Consistent scans of a changing state, and the edits that keep them consistent.
//
// A checkpoint, a full backup and a digest each read the whole state as it was at one
// TID. Copying the state first would stop commits for as long as the copy takes (about
// a microsecond per key) and double the memory; holding the read lock for the whole
// read would stop them for longer. Instead a SnapshotScan reads the live state in key
// order, a chunk at a time under the read lock, while commits (or restore batches) go
// on between the chunks:
//
//   - opening a scan takes the lock for a moment and notes the TID and the key count;
//   - every change of the state goes through a StateEdit, which keeps, in each open
//     scan, the pre-image of a key (its entry, or "absent") before its first change,
//     unless the scan has already passed that key;
//   - the scan reads a key's pre-image where one was kept and the live entry otherwise,
//     and returns the pre-images of keys deleted since, in order among the others; each
//     pre-image is dropped once passed.
//
// A scan so holds only the entries changed ahead of its cursor since it opened: its
// memory follows the writes made during the scan, not the size of the state. A commit
// waits at most for one chunk's read. The choice and its figures: docs/checkpoints.md.
//
// Locks: StateCore::mu (base/rw_lock.h). Writers (StateEdit) hold it exclusively; a scan's Next holds it
// shared. A scan's cursor and pre-images are written by its Next (shared, the one reader
// of that scan) and by StateEdit (exclusive), never at the same time.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/rw_lock.h"
#include "engine/restore_mode.h"
#include "engine/state_map.h"

namespace tranship {

class SnapshotScan;

// What the state store guards with one lock. The open scans share it, so that a scan
// still open when its engine is gone reads a state that is still there.
struct StateCore {
  mutable RwLock mu;                  // a waiting writer goes before new readers
  StateMap map;                       // GUARDED_BY(mu)
  uint64_t applied_tid = 0;           // GUARDED_BY(mu)
  RestoreProgress restore;            // GUARDED_BY(mu); meaningful in restore mode
  std::vector<SnapshotScan*> scans;   // GUARDED_BY(mu): the open scans
};

class SnapshotScan final : public StateView {
 public:
  // Opens a scan of the state as it is now. REQUIRES: core->mu held exclusively.
  static std::shared_ptr<SnapshotScan> OpenLocked(std::shared_ptr<StateCore> core);
  ~SnapshotScan() override;

  uint64_t tid() const { return tid_; }
  uint64_t keys() const override { return keys_; }
  // Corruption if the entries passed do not add up to keys() (a scan that lost its
  // place); Aborted if the whole state was replaced meanwhile (entering restore mode).
  Result<bool> Next(size_t max, const EntryFn& fn) override;
  // Entries kept for this scan now (for the figures).
  size_t pre_images() const;

 private:
  friend class StateEdit;
  SnapshotScan(std::shared_ptr<StateCore> core, uint64_t tid, uint64_t keys)
      : core_(std::move(core)), tid_(tid), keys_(keys) {}

  // REQUIRES: mu held exclusively; `old` is the key's entry now (null: absent).
  void BeforeChange(std::string_view key, const StateEntry* old);

  const std::shared_ptr<StateCore> core_;
  const uint64_t tid_;
  const uint64_t keys_;
  bool started_ = false;   // a key was passed: cursor_ is meaningful
  bool done_ = false;
  bool aborted_ = false;
  std::string cursor_;     // the last key passed
  uint64_t passed_ = 0;    // entries handed out
  std::map<std::string, std::optional<StateEntry>, std::less<>> pre_;  // keys > cursor_
};

// Changes of the state. With the open scans of a store (StateStore::Write), it keeps
// their pre-images; on a bare map (recovery, tests) it only changes the map.
class StateEdit {
 public:
  explicit StateEdit(StateMap* map) : map_(map) {}
  StateEdit(StateMap* map, std::vector<SnapshotScan*>* scans) : map_(map), scans_(scans) {}

  void Put(std::string&& key, std::string&& value, uint64_t version);
  void Put(std::string_view key, std::string_view value, uint64_t version);
  void Erase(std::string_view key);
  // Swaps in a whole new state (entering restore mode); open scans then fail (Aborted).
  void Replace(StateMap* other);

  const StateMap& map() const { return *map_; }

 private:
  bool scanning() const { return scans_ && !scans_->empty(); }
  void BeforeChange(std::string_view key, const StateEntry* old);

  StateMap* const map_;
  std::vector<SnapshotScan*>* const scans_ = nullptr;
};

}  // namespace tranship
