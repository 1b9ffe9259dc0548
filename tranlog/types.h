#pragma once
// Small value types shared by the engine, the tools and (later) the shipping daemons.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace tranship {

// A 128-bit lineage id: one history of a repository. A new one starts at every
// commit-restore, like a PostgreSQL timeline.
struct Lineage {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool IsZero() const { return hi == 0 && lo == 0; }
  auto operator<=>(const Lineage&) const = default;
  std::string ToHex() const;  // 32 lowercase hex digits
  static bool FromHex(std::string_view s, Lineage* out);
  static Lineage Random();    // from getrandom(2)
};

// A record boundary: byte `offset` of tranlog file `file_id`.
struct Position {
  uint64_t file_id = 0;
  uint64_t offset = 0;
  auto operator<=>(const Position&) const = default;
  std::string ToString() const;  // "tranlog 3 offset 4096"
};

// The end of the durable part of a tranlog history: everything before `pos` is on disk
// (fdatasync'ed) and the last record there has `tid`, `chain` and `commit_time_us`.
struct DurableEnd {
  Lineage lineage;
  Position pos;
  uint64_t tid = 0;
  uint64_t chain = 0;
  uint64_t commit_time_us = 0;
  bool operator==(const DurableEnd&) const = default;
};

}  // namespace tranship
