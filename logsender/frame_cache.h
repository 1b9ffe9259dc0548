#pragma once
// Compressed Data frames by the position they start at, so that receivers at the same
// place share one read and one compression (and the bytes themselves: a cached frame's
// buffer is queued on every transport that sends it).
//
// Entries are immutable and stay valid: a frame holds only durable records, which never
// change. The cache is bounded by the bytes of its frames and evicts the least recently
// used; a frame still being sent stays alive through its transports' references.
//
// REQUIRES: loop thread only.

#include <cstddef>
#include <list>
#include <map>
#include <memory>

#include "engine/types.h"
#include "logsender/frame_builder.h"

namespace tranship::logsender {

class FrameCache {
 public:
  explicit FrameCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::shared_ptr<const BuiltFrame> Find(const Position& start);
  void Insert(std::shared_ptr<const BuiltFrame> frame);
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t entries() const { return index_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  using Lru = std::list<std::shared_ptr<const BuiltFrame>>;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  Lru lru_;  // least recently used first
  std::map<Position, Lru::iterator> index_;
};

}  // namespace tranship::logsender
