// The frame cache: bounded by memory; what it evicts first.

#include <doctest/doctest.h>

#include <string>

#include "logsender/frame_cache.h"

using namespace tranship;
using namespace tranship::logsender;

namespace {

// A frame of `size` bytes starting at tranlog 1, offset `offset`.
std::shared_ptr<const BuiltFrame> Frame(uint64_t offset, size_t size) {
  BuiltFrame f;
  f.header.file_id = 1;
  f.header.offset = offset;
  f.header.raw_length = static_cast<uint32_t>(size);
  f.bytes = std::make_shared<const std::string>(size, 'x');
  f.end = Position{1, offset + size};
  return std::make_shared<const BuiltFrame>(std::move(f));
}

constexpr size_t kFrame = 1000;
constexpr size_t kCost = kFrame + FrameCache::kEntryOverhead;

}  // namespace

TEST_CASE("FrameCacheStaysWithinItsBudgetEvictingTheLeastRecentlyUsed") {
  FrameCache c(3 * kCost);
  for (uint64_t i = 0; i < 3; i++) c.Insert(Frame(i * kFrame, kFrame));
  REQUIRE(c.Find(Position{1, 0}) != nullptr);  // frame 0 is now the most recently used
  c.Insert(Frame(3 * kFrame, kFrame));
  CHECK(c.bytes() <= 3 * kCost);
  CHECK(c.entries() == 3);
  CHECK(c.Find(Position{1, 0}) != nullptr);
  CHECK(c.Find(Position{1, kFrame}) == nullptr);  // least recently used: gone
}

TEST_CASE("FrameCacheEvictsFramesBehindEveryReceiverBeforeFramesOneStillNeeds") {
  // A receiver ahead built frames 0..2 long ago; the one behind has just used frame 0
  // and still needs 1 and 2. LRU alone would evict frame 1.
  FrameCache c(3 * kCost);
  for (uint64_t i = 0; i < 3; i++) c.Insert(Frame(i * kFrame, kFrame));
  REQUIRE(c.Find(Position{1, 0}) != nullptr);
  c.Insert(Frame(3 * kFrame, kFrame), /*needed_from=*/Position{1, kFrame});
  CHECK(c.Find(Position{1, 0}) == nullptr);  // behind every receiver
  CHECK(c.Find(Position{1, kFrame}) != nullptr);
  CHECK(c.Find(Position{1, 2 * kFrame}) != nullptr);
  CHECK(c.Find(Position{1, 3 * kFrame}) != nullptr);
}
