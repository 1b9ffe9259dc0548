#pragma once
// The extent: a checkpoint image of the whole state (extent0.dbf) and the tranlog
// position to replay from. Layout in docs/tranlog-format.md ("Extent").
//
// Written as a new file (extent0.dbf.tmp), fsynced, renamed over extent0.dbf, and the
// directory fsynced, so a crash leaves either the old or the new extent, never a mix.
// The header's first 96 bytes are the saved-state header it shares with full backups
// (engine/saved_state.h).

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "tranlog/types.h"

namespace tranship {

struct StateEntry {
  std::string value;
  uint64_t version = 0;  // TID of the commit that last wrote the key
};
using StateMap = std::map<std::string, StateEntry, std::less<>>;

// A copy of the whole state at one TID and where that TID sits in the tranlog history
// (what a full backup writes).
struct StateSnapshot {
  DurableEnd at;  // lineage, position after record `at.tid`, its chain and commit time
  bool commits_suspended = false;
  std::shared_ptr<const StateMap> state;
};

struct ExtentHeader {
  Lineage lineage;
  uint64_t tid = 0;            // last TID applied to the saved state
  Position replay_from;        // first record after `tid`
  uint64_t chain = 0;          // chain value of record `tid`
  uint64_t last_commit_us = 0; // timestamp of record `tid`
  uint64_t flags = 0;          // kExtentFlag* below
  uint64_t keys = 0;
  uint64_t created_us = 0;
};

// On a primary: commits are suspended (suspend-commits). In restore mode: the restored
// history ends suspended (a failover checkpoint with no resume-commits after it).
inline constexpr uint64_t kExtentFlagCommitsSuspended = 1;
// The stone is in restore mode: `replay_from` is the restored position in the archive
// numbering, and recovery replays none of the stone's own tranlogs.
inline constexpr uint64_t kExtentFlagRestoring = 2;

inline constexpr char kExtentFileName[] = "extent0.dbf";

Status WriteExtent(Env* env, const std::string& dir, const ExtentHeader& header,
                   const StateMap& state);
// Reads and checks (magic, version, CRC over the whole file) an extent.
Status ReadExtent(Env* env, const std::string& path, ExtentHeader* header, StateMap* state);
// Only the header (magic and version checked; the CRC covers the whole file, so it is not).
Status ReadExtentHeader(Env* env, const std::string& path, ExtentHeader* header);

}  // namespace tranship
