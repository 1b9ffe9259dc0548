#pragma once
// Compressed Data frames by the position they start at, so that receivers at the same
// place share one read and one compression (and the bytes themselves: a cached frame's
// buffer is queued on every transport that sends it).
//
// Entries are immutable and stay valid: a frame holds only durable records, which never
// change. The cache is bounded by the memory of its entries — a frame's bytes plus what
// the entry itself costs (kEntryOverhead: while streaming, a frame of a few records is
// as small as that) — and evicts frames no receiver needs any more first, then the
// least recently used; a frame still being sent
// stays alive through its transports' references.
//
// REQUIRES: loop thread only.

#include <cstddef>
#include <list>
#include <map>
#include <memory>

#include "tranlog/types.h"
#include "logsender/frame_builder.h"

namespace tranship::logsender {

class FrameCache {
 public:
  explicit FrameCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::shared_ptr<const BuiltFrame> Find(const Position& start);
  // Evicts, while over budget, first the frames that start before `needed_from` (the
  // cursor of the receiver furthest behind), then the least recently used.
  void Insert(std::shared_ptr<const BuiltFrame> frame, const Position& needed_from = {});
  void Clear();

  // The frame, its shared_ptr control block, the list and index nodes and the
  // allocator's headers, rounded up.
  static constexpr size_t kEntryOverhead = 320;

  size_t bytes() const { return bytes_; }  // memory of the entries, overhead included
  size_t entries() const { return index_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  using Lru = std::list<std::shared_ptr<const BuiltFrame>>;
  static size_t Cost(const BuiltFrame& f) { return f.bytes->size() + kEntryOverhead; }
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  Lru lru_;  // least recently used first
  std::map<Position, Lru::iterator> index_;
};

}  // namespace tranship::logsender
