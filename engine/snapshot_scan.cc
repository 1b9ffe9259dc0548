#include "engine/snapshot_scan.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

namespace tranship {

std::shared_ptr<SnapshotScan> SnapshotScan::OpenLocked(std::shared_ptr<StateCore> core) {
  StateCore* c = core.get();
  std::shared_ptr<SnapshotScan> scan(
      new SnapshotScan(std::move(core), c->applied_tid, c->map.size()));
  c->scans.push_back(scan.get());
  return scan;
}

SnapshotScan::~SnapshotScan() {
  std::unique_lock l(core_->mu);
  auto& scans = core_->scans;
  scans.erase(std::remove(scans.begin(), scans.end(), this), scans.end());
}

size_t SnapshotScan::pre_images() const {
  std::shared_lock l(core_->mu);
  return pre_.size();
}

void SnapshotScan::BeforeChange(std::string_view key, const StateEntry* old) {
  if (done_ || aborted_ || (started_ && key <= std::string_view(cursor_))) return;
  auto it = pre_.lower_bound(key);
  if (it != pre_.end() && it->first == key) return;  // the first change's pre-image stays
  if (old) {
    pre_.emplace_hint(it, std::string(key), *old);
  } else {
    pre_.emplace_hint(it, std::string(key), std::nullopt);
  }
}

Result<bool> SnapshotScan::Next(size_t max, const EntryFn& fn) {
  std::shared_lock l(core_->mu);
  if (aborted_) {
    return Status::Aborted(fmt::format(
        "the state was replaced while it was read at TID {} (the stone entered restore mode)",
        tid_));
  }
  if (done_) return false;
  const StateMap& map = core_->map;
  auto it = started_ ? map.upper_bound(cursor_) : map.begin();
  auto pit = pre_.begin();  // every pre-image left is of a key after the cursor
  size_t n = 0;
  while (n < max) {
    bool live = it != map.end(), kept = pit != pre_.end();
    if (!live && !kept) {
      done_ = true;
      break;
    }
    int c = !live ? 1 : !kept ? -1 : it->first.compare(pit->first);
    if (c < 0) {
      // Not changed since the scan opened: the live entry is the one at tid_.
      fn(it->first, it->second);
      cursor_ = it->first;
      ++it;
      ++n;
    } else {
      if (pit->second) {
        fn(pit->first, *pit->second);
        ++n;
      }
      cursor_ = pit->first;
      if (c == 0) ++it;
      pit = pre_.erase(pit);
    }
    started_ = true;
  }
  passed_ += n;
  if (!done_ && it == map.end() && pit == pre_.end()) done_ = true;
  if (done_ && passed_ != keys_) {
    return Status::Corruption(fmt::format(
        "the scan of the state at TID {} passed {} keys, but the state held {} then",
        tid_, passed_, keys_));
  }
  return !done_;
}

void StateEdit::BeforeChange(std::string_view key, const StateEntry* old) {
  for (SnapshotScan* s : *scans_) s->BeforeChange(key, old);
}

void StateEdit::Put(std::string&& key, std::string&& value, uint64_t version) {
  auto it = map_->lower_bound(key);
  bool exists = it != map_->end() && it->first == key;
  if (scanning()) BeforeChange(key, exists ? &it->second : nullptr);
  if (exists) {
    it->second.value = std::move(value);
    it->second.version = version;
  } else {
    map_->emplace_hint(it, std::move(key), StateEntry{std::move(value), version});
  }
}

void StateEdit::Put(std::string_view key, std::string_view value, uint64_t version) {
  auto it = map_->lower_bound(key);
  bool exists = it != map_->end() && it->first == key;
  if (scanning()) BeforeChange(key, exists ? &it->second : nullptr);
  if (exists) {
    it->second.value.assign(value);
    it->second.version = version;
  } else {
    map_->emplace_hint(it, std::string(key), StateEntry{std::string(value), version});
  }
}

void StateEdit::Erase(std::string_view key) {
  auto it = map_->find(key);
  if (it == map_->end()) return;
  if (scanning()) BeforeChange(key, &it->second);
  map_->erase(it);
}

void StateEdit::Replace(StateMap* other) {
  if (scans_) {
    for (SnapshotScan* s : *scans_) s->aborted_ = true;
  }
  map_->swap(*other);
}

}  // namespace tranship
