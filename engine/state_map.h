#pragma once
// The state as a sorted map, and StateView: the state read in key order, a chunk at a
// time. The extent (engine/extent.h), full backups (restore/backup_format.h) and the
// digest (engine/digest.h) write whatever a StateView gives them: a map held in hand
// (MapView: recovery, tests), or a consistent scan of a live stone's state
// (engine/snapshot_scan.h), which commits go on changing while it is read.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tranship {

struct StateEntry {
  std::string value;
  uint64_t version = 0;  // TID of the commit that last wrote the key
};
using StateMap = std::map<std::string, StateEntry, std::less<>>;

class StateView {
 public:
  using EntryFn = std::function<void(std::string_view key, const StateEntry& entry)>;
  virtual ~StateView() = default;

  // How many entries the view holds.
  virtual uint64_t keys() const = 0;
  // Passes the next at most `max` entries, in key order, to `fn`, and returns whether
  // entries remain. `fn` may run under the state's lock: it encodes, it does not write.
  virtual Result<bool> Next(size_t max, const EntryFn& fn) = 0;
};

// A view of a map that nothing changes while it is read.
class MapView final : public StateView {
 public:
  explicit MapView(const StateMap& map) : map_(map), it_(map.begin()) {}
  uint64_t keys() const override { return map_.size(); }
  Result<bool> Next(size_t max, const EntryFn& fn) override {
    for (size_t n = 0; n < max && it_ != map_.end(); ++n, ++it_) fn(it_->first, it_->second);
    return it_ != map_.end();
  }

 private:
  const StateMap& map_;
  StateMap::const_iterator it_;
};

}  // namespace tranship
