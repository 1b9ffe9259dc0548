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
#include "engine/state_map.h"
#include "tranlog/types.h"

namespace tranship {

// The whole state at one TID and where that TID sits in the tranlog history (what a full
// backup writes): a consistent scan of the live state (engine/snapshot_scan.h).
struct StateSnapshot {
  DurableEnd at;  // lineage, position after record `at.tid`, its chain and commit time
  bool commits_suspended = false;
  std::shared_ptr<StateView> state;
  uint64_t write_bytes_per_s = 0;  // the stone's pace for writing it out (0: no limit)
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

// Writes the entries of `state`, read a chunk at a time, and their count as `keys`, at
// most `bytes_per_s` fast (0: as fast as the disk takes them; base/pacer.h).
Status WriteExtent(Env* env, const std::string& dir, const ExtentHeader& header,
                   StateView& state, uint64_t bytes_per_s = 0);
Status WriteExtent(Env* env, const std::string& dir, const ExtentHeader& header,
                   const StateMap& state);
// Reads and checks (magic, version, CRC over the whole file) an extent.
Status ReadExtent(Env* env, const std::string& path, ExtentHeader* header, StateMap* state);
// Only the header (magic and version checked; the CRC covers the whole file, so it is not).
Status ReadExtentHeader(Env* env, const std::string& path, ExtentHeader* header);

}  // namespace tranship
