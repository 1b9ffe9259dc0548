#pragma once
// Pacer: keeps a stream of writes at or under a rate by sleeping between its chunks.
// The extent of a checkpoint and a full backup write the whole state while commits go
// on; unpaced they fill the disk's queue, and every commit's fdatasync (a flush of the
// device's cache, on most disks) waits behind them.

#include <chrono>
#include <cstdint>
#include <thread>

#include "base/clock.h"

namespace tranship {

class Pacer {
 public:
  // 0: no limit.
  explicit Pacer(uint64_t bytes_per_s) : rate_(bytes_per_s), start_ns_(MonotonicNanos()) {}

  // Counts `bytes` written and sleeps until the rate allows them.
  void Pace(uint64_t bytes) {
    if (rate_ == 0) return;
    done_ += bytes;
    uint64_t due = start_ns_ + static_cast<uint64_t>(static_cast<double>(done_) * 1e9 /
                                                     static_cast<double>(rate_));
    uint64_t now = MonotonicNanos();
    if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
  }

 private:
  const uint64_t rate_;
  const uint64_t start_ns_;
  uint64_t done_ = 0;
};

}  // namespace tranship
