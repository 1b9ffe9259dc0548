#pragma once
// The primary's current history as a chain of lineages (docs/protocol.md, "Which
// positions are on the primary's history").
//
// Every commit-restore starts a new lineage in a new file whose first record is a
// lineage-start record naming the parent lineage, the parent's end position and its
// last TID; the file's header starts at that TID + 1 with the parent's chain. Older
// files stay in the -T directories, including records of the parent written after that
// end (an abandoned branch: the primary restored an older backup). So the current
// history is not "every file", but, walking back from the durable end:
//
//   segment 0: the durable end's lineage, from its first file (the lineage start) on;
//   segment 1: its parent lineage, up to the parent end named by segment 0's
//              lineage-start record, in the files of that lineage up to that end;
//   ...        until a lineage whose parent is zero (a new repository), or whose first
//              file is no longer present.
//
// A junction is where the history leaves a parent for its child: after the parent's
// last record (TID t, chain c), the next record is the child's lineage-start record at
// offset 0 of the child's first file, whatever follows t in the parent's files.
//
// REQUIRES: on the loop thread (reads files through History).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tranlog/types.h"
#include "logsender/history.h"

namespace tranship::logsender {

struct Segment {
  Lineage lineage;
  // The files of this lineage on the current history that this primary has, or 0 and 0
  // if it has none (a parent history held only by the old primary and its standbys).
  uint64_t first_file = 0;
  uint64_t last_file = 0;
  uint64_t first_tid = 0;    // first TID of first_file
  uint64_t start_chain = 0;  // chain before it (first_file's header)
  // first_file begins with this lineage's lineage-start record, which named:
  bool starts_here = false;
  Lineage parent;           // zero: a new repository (no parent)
  Position parent_end;
  uint64_t parent_tid = 0;
  // Where this lineage ends on the current history: the durable end for segment 0, the
  // parent end its child names for the others.
  Position end;
  uint64_t end_tid = 0;
  uint64_t end_chain = 0;  // for the others: the chain at end_tid (the child's start chain)
};

struct Junction {
  Lineage parent;
  Lineage child;
  Position parent_end;  // as the child's lineage-start record spells it
  uint64_t tid = 0;     // the parent's last TID on the current history
  uint64_t chain = 0;   // its chain
  Boundary next;        // offset 0 of the child's first file
};

class CurrentHistory {
 public:
  // Walks the lineage-start records back from `end`. An error means a file could not be
  // read (damage on the primary), not that the history is short.
  static Result<CurrentHistory> Trace(History& history, const DurableEnd& end);

  const std::vector<Segment>& segments() const { return segments_; }
  const Lineage& lineage() const { return segments_.front().lineage; }

  // The index of the segment whose record `tid` is on the current history; for the
  // last TID of a parent that is the parent (TID 0 belongs to a new repository's
  // lineage). -1 if the history as far as this primary knows it does not reach back
  // to `tid`.
  int SegmentOf(uint64_t tid) const;
  // The index of the segment that holds the record after `tid` (for `tid` at the
  // durable end: segment 0); -1 as above.
  int SegmentAfter(uint64_t tid) const;

  // The junction out of segment i (i >= 1) into segment i - 1.
  Junction JunctionOutOf(size_t i) const;
  // The junction whose parent ends inside file `file_id` after `offset`, if any: a
  // frame of that file stops there.
  std::optional<Junction> JunctionInFile(uint64_t file_id, uint64_t offset) const;
  // The junction a stream reaches when its next record is `b.next_tid` after chain
  // `b.chain` and is not already at the child's first file.
  std::optional<Junction> JunctionAt(const Boundary& b) const;

  // "lineage L2 from TID 61 (tranlog 6 offset 0), after lineage L1 up to TID 60
  // (tranlog 3 offset 800)": the current history in words, for refusals.
  std::string Describe() const;

 private:
  std::vector<Segment> segments_;  // [0] = the durable end's lineage, then its ancestors
};

}  // namespace tranship::logsender
