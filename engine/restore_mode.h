#pragma once
// Restore mode as the engine holds it: the end of the restored history (in the archive
// numbering of its primary's files) and what is known beyond it. The rules that extend
// the history are restore's (restore/apply.h); the engine only keeps the result, with
// its state, and checkpoints both together (engine/extent.h, kExtentFlagRestoring).

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tranlog/types.h"

namespace tranship {

struct RestoredPosition {
  Lineage lineage;
  Position pos;                // where record tid+1 starts, in the archive numbering
  uint64_t tid = 0;            // last applied TID
  uint64_t chain = 0;          // chain of record `tid`
  uint64_t commit_time_us = 0; // timestamp of record `tid`
  bool operator==(const RestoredPosition&) const = default;
  DurableEnd AsEnd() const { return DurableEnd{lineage, pos, tid, chain, commit_time_us}; }
  static RestoredPosition From(const DurableEnd& e) {
    return RestoredPosition{e.lineage, e.pos, e.tid, e.chain, e.commit_time_us};
  }
  // "lineage 0123… TID 42 (tranlog 3 offset 4096)"
  std::string ToString() const;
};

// What a restored history knows beyond its position.
struct RestoreProgress {
  RestoredPosition at;
  // TID of a failover checkpoint applied with no resume-commits after it; 0 if none.
  uint64_t failover_tid = 0;
  uint64_t applied = 0;        // records applied since the stone started
  uint64_t skipped = 0;        // records at or before the position, skipped
};

}  // namespace tranship

namespace tranship {

// The refusals of a stone's mode, named for the operator with the stone's name. Those
// with a reason state the fact alone: the stone (stone/stone.h, AddStoneHint) adds what
// to do.
inline constexpr char kReasonNotInRestoreMode[] = "not-in-restore-mode";
inline constexpr char kReasonAlreadySuspended[] = "already-suspended";
inline constexpr char kReasonNoTranlogsInRestoreMode[] = "no-tranlogs-in-restore-mode";
inline constexpr char kReasonInRestoreMode[] = "in-restore-mode";
inline constexpr char kReasonCommitsSuspended[] = "commits-suspended";
Status InRestoreModeStatus(std::string_view stone);           // a commit in restore mode
Status NotInRestoreModeStatus(std::string_view stone);        // a restore into a primary
Status NoTranlogsInRestoreModeStatus(std::string_view stone); // start-new-log in restore mode
Status CommitsSuspendedStatus(std::string_view stone);        // a commit while suspended
Status AlreadySuspendedStatus(std::string_view stone);       // suspend-commits again
Status NotSuspendedStatus(std::string_view stone);

}  // namespace tranship
