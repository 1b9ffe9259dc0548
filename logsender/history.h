#pragma once
// What the logsender knows of the primary's history on disk: which tranlog files exist
// in its -T directories, their headers and sizes, and record boundaries it has already
// found (so a receiver that reconnects at a position the sender shipped is checked
// without rescanning a file).
//
// REQUIRES: used on the loop thread only.

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "tranlog/reader.h"
#include "tranlog/types.h"

namespace tranship::logsender {

// A record boundary and what a reader needs to continue there.
struct Boundary {
  Position pos;                 // where the next record (or file header, at offset 0) starts
  uint64_t next_tid = 0;        // TID of that next record
  uint64_t chain = 0;           // chain of the record before it
  uint64_t last_commit_us = 0;  // commit time of the record before it; 0 if unknown
  bool operator==(const Boundary&) const = default;
};

class History {
 public:
  History(Env* env, std::vector<std::string> dirs, std::string prefix);

  // Lists the tranlog files again (new files appear, old ones are removed by operators).
  Status Refresh();
  // The path of `file_id`, refreshing the listing once if it is not known.
  std::optional<std::string> PathOf(uint64_t file_id);
  uint64_t oldest() const { return set_.oldest(); }
  uint64_t newest() const { return set_.newest(); }
  const std::vector<std::string>& dirs() const { return dirs_; }
  Env* env() const { return env_; }
  const std::string& prefix() const { return prefix_; }
  // "tranlog7.dbf"
  std::string FileName(uint64_t file_id) const;

  Result<tranlog::FileHeader> Header(uint64_t file_id);
  // The file's size (cached for files older than the newest, which no longer change).
  uint64_t FileSize(uint64_t file_id);
  // Bytes from `from` to `to` (record boundaries, from <= to), summed over files.
  uint64_t Distance(const Position& from, const Position& to);

  // The boundary at `pos`, which must not be past the durable end `end`: remembered,
  // or found by scanning the file from its start. NotFound if the file is gone;
  // InvalidArgument (with the reason in plain words) if `pos` is not a record boundary
  // of the file. A boundary right after a log switch is returned as (next file, 0).
  Result<Boundary> FindBoundary(const Position& pos, const DurableEnd& end);
  // Where the file holding TID `tid` starts: the newest file whose first TID <= tid.
  // NotFound if `tid` lies before the oldest file still present.
  Result<uint64_t> FileHolding(uint64_t tid);
  // The chain of record `tid` in file `file_id` (scans the file). NotFound if absent.
  Result<Boundary> BoundaryAfterTid(uint64_t file_id, uint64_t tid);

  // Frames built and records scanned teach the history their boundaries.
  void Remember(const Boundary& b);
  std::optional<Boundary> Known(const Position& pos) const;
  // Forgets every boundary learned: the primary's history changed (rewound, new lineage).
  void ForgetBoundaries();

 private:
  Env* env_;
  std::vector<std::string> dirs_;
  std::string prefix_;
  tranlog::TranlogSet set_;
  std::map<uint64_t, tranlog::FileHeader> headers_;
  std::map<uint64_t, uint64_t> closed_sizes_;
  // Recently learned boundaries, least recently used first.
  static constexpr size_t kMaxKnown = 4096;
  std::list<Boundary> known_lru_;
  std::map<Position, std::list<Boundary>::iterator> known_;
};

}  // namespace tranship::logsender
