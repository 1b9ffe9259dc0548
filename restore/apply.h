#pragma once
// The rules that extend a restored history (docs/standby.md, "Restore mode").
//
// A stone in restore mode holds "the history up to TID t" of some primary: its
// RestoredPosition names t, the chain value of record t, the lineage, the commit time
// and where record t+1 starts in the archive numbering (the primary's file ids). A
// record read from any source (archive logs, the stone's own tranlogs, a receiver) is
// applied only if it continues that history:
//
//   - TID t+1 whose chain is ChainNext(chain at t, its header): applied;
//   - TID <= t: skipped (an archive file that starts before the position); the record
//     at exactly t must carry the restored chain, otherwise the histories differ;
//   - TID > t+1: a gap (records are missing in between);
//   - TID t+1 with another chain: a fork in time (two histories).
//
// Commits change keys; a lineage-start record switches the lineage; a checkpoint marked
// failover makes the restored history "suspended" until a resume-commits (or lineage
// start) record follows; a log switch moves the position to the start of the next file.

#include <cstdint>
#include <string>

#include "engine/extent.h"
#include "engine/restore_mode.h"
#include "engine/snapshot_scan.h"
#include "tranlog/reader.h"
#include "tranlog/types.h"

namespace tranship {

// A position right after a log switch is the start of the next file: the same point of
// the history, spelled so that a reader opens the next file.
Position NormalizeAfterLogSwitch(const tranlog::RecordRef& rec, Position end_of_record);

enum class ApplyVerdict { kApplied, kSkipped, kGap, kFork, kBadRecord };

// Applies records to `state` and advances `progress`. Not thread-safe: it runs inside
// RestoreTarget::ApplyRestored, with the engine's state lock held.
class RestoreApplier {
 public:
  RestoreApplier(RestoreProgress* progress, StateEdit* state)
      : progress_(progress), state_(state) {}

  // `end_offset` is where the record ends in its file (the reader's offset after it).
  // kGap / kFork / kBadRecord leave state and position untouched; why() says what.
  ApplyVerdict Apply(const tranlog::RecordRef& rec, uint64_t end_offset);
  const std::string& why() const { return why_; }
  const RestoreProgress& progress() const { return *progress_; }

 private:
  RestoreProgress* progress_;
  StateEdit* state_;
  std::string why_;
};

// The chain value a record with this header has after `prev` (tranlog::ChainNext over
// the header bytes [4, 32) rebuilt from the decoded fields).
uint64_t ChainAfter(uint64_t prev, const tranlog::RecordHeader& h);

}  // namespace tranship
