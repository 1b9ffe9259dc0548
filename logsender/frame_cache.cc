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

void FrameCache::Insert(std::shared_ptr<const BuiltFrame> frame) {
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
    bytes_ -= Cost(*lru_.front());
    index_.erase(StartOf(*lru_.front()));
    lru_.pop_front();
  }
}

void FrameCache::Clear() {
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

}  // namespace tranship::logsender
