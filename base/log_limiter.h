#pragma once
// Keeps a flood of one kind of log line (e.g. refused connections) from filling the log:
// at most `burst` lines per window; the lines held back are counted and reported by the
// first line allowed after the window ends ("... and N more in the last 10 s").
//
// Not thread-safe: one per event loop.

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace tranship {

class LogLimiter {
 public:
  LogLimiter(uint32_t burst, uint64_t window_ns) : burst_(burst), window_ns_(window_ns) {}

  // Whether a line may be written at `now_ns`; *note receives what to append to it
  // (the count of lines held back since the last one written), or "".
  bool Allow(uint64_t now_ns, std::string* note) {
    note->clear();
    if (now_ns - window_start_ns_ >= window_ns_ || !started_) {
      started_ = true;
      if (held_back_ > 0) {
        *note = fmt::format(" ({} more not logged in the {:.0f} s before)", held_back_,
                            static_cast<double>(now_ns - window_start_ns_) / 1e9);
      }
      window_start_ns_ = now_ns;
      in_window_ = 0;
      held_back_ = 0;
    }
    if (in_window_ < burst_) {
      in_window_++;
      return true;
    }
    held_back_++;
    return false;
  }

 private:
  uint32_t burst_;
  uint64_t window_ns_;
  bool started_ = false;
  uint64_t window_start_ns_ = 0;
  uint32_t in_window_ = 0;
  uint64_t held_back_ = 0;
};

}  // namespace tranship
