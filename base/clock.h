#pragma once
// Wall-clock and monotonic time.

#include <cstdint>
#include <string>

namespace tranship {

// Microseconds since the Unix epoch (wall clock; commit timestamps use this).
uint64_t NowMicros();
// Nanoseconds of a monotonic clock (durations, deadlines).
uint64_t MonotonicNanos();
// "2026-11-21 06:12:00.123" in local time.
std::string FormatLocalTime(uint64_t micros);
// "2026-11-21T06:12:00.123456Z" in UTC.
std::string FormatUtc(uint64_t micros);

}  // namespace tranship
