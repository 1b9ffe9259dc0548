#pragma once
// The -b bandwidth limit of one receiver: a token bucket in bytes that may go into
// debt. A frame is sent whenever the bucket is not in debt and its whole size is taken,
// so frames are never split and the average rate is exact over any stretch longer than
// a frame's worth of time.

#include <algorithm>
#include <cstdint>

namespace tranship::logsender {

class TokenBucket {
 public:
  // rate 0: unlimited.
  TokenBucket(uint64_t bytes_per_s, uint64_t now_ns)
      : rate_(bytes_per_s),
        // A tenth of a second of burst: smooth enough for a link shared with others.
        burst_(std::max<double>(static_cast<double>(bytes_per_s) / 10, 16 << 10)),
        tokens_(burst_),
        last_ns_(now_ns) {}

  bool unlimited() const { return rate_ == 0; }
  bool CanSend(uint64_t now_ns) {
    if (unlimited()) return true;
    Refill(now_ns);
    return tokens_ > 0;
  }
  void Take(uint64_t bytes, uint64_t now_ns) {
    if (unlimited()) return;
    Refill(now_ns);
    tokens_ -= static_cast<double>(bytes);
  }

 private:
  void Refill(uint64_t now_ns) {
    if (now_ns <= last_ns_) return;
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(rate_) *
                                             static_cast<double>(now_ns - last_ns_) / 1e9);
    last_ns_ = now_ns;
  }

  uint64_t rate_;
  double burst_;
  double tokens_;
  uint64_t last_ns_;
};

}  // namespace tranship::logsender
