#include "logsender/frame_cache.h"

namespace tranship::logsender {
namespace {
Position StartOf(const BuiltFrame& f) { return Position{f.header.file_id, f.header.offset}; }
}  // namespace

std::shared_ptr<const BuiltFrame> FrameCache::Find(const Position& start) {
  auto it = index_.find(start);
  if (it == index_.end()) {
    misses_++;
    return nullptr;
  }
  hits_++;
  lru_.splice(lru_.end(), lru_, it->second);
  return *it->second;
}

void FrameCache::Insert(std::shared_ptr<const BuiltFrame> frame, const Position& needed_from) {
  Position start = StartOf(*frame);
  auto old = index_.find(start);
  if (old != index_.end()) {
    // A frame built later from the same place may be longer (the durable end moved);
    // either is correct, the newer one saves frames.
    bytes_ -= Cost(**old->second);
    lru_.erase(old->second);
    index_.erase(old);
  }
  bytes_ += Cost(*frame);
  lru_.push_back(std::move(frame));
  index_[start] = std::prev(lru_.end());
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    // A frame before every receiver is needed by none of them; after those, the least
    // recently used. (LRU alone would evict the frames a receiver behind the others
    // still needs: the one ahead sent them long ago.)
    Lru::iterator victim = lru_.begin();
    if (index_.begin()->first < needed_from && index_.begin()->second != std::prev(lru_.end())) {
      victim = index_.begin()->second;
    }
    bytes_ -= Cost(**victim);
    index_.erase(StartOf(**victim));
    lru_.erase(victim);
  }
}

void FrameCache::Clear() {
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

}  // namespace tranship::logsender
