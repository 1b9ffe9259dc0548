#pragma once
// Crash recovery: rebuild the state from the extent and the tranlogs after it.
//
// 1. Load extent0.dbf if present (state at TID t, position to replay from); without one,
//    start empty at tranlog 1, which must exist.
// 2. Check that every file from the replay position to the newest exists (no gap).
// 3. Replay the records in order, checking CRCs, TIDs and the chain across files.
// 4. Damage at the end of the newest file with nothing valid after it is a torn tail: it
//    is cut. Damage anywhere else stops recovery with the file and offset.
// 5. Leave a Writer positioned at the end, ready to append (creating the next file when
//    the newest one ends with a log switch or its header never made it to disk).
//
// Restore mode: an extent with kExtentFlagRestoring is loaded and nothing is replayed
// (its replay-from is the restored position in the archive numbering) — unless the
// stone's own tranlogs hold a file that begins with a lineage-start record naming that
// position: then commit-restore happened since (it writes no checkpoint), and the files
// from that one on are replayed as a primary's. A primary opened
// with restore_mode (startstone -R) replays its own tranlogs and is then in restore mode
// at its own durable end. Neither gets a Writer.

#include <cstdint>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "engine/options.h"
#include "engine/extent.h"
#include "engine/restore_mode.h"
#include "engine/snapshot_scan.h"
#include "tranlog/commit.h"
#include "tranlog/reader.h"
#include "tranlog/writer.h"

namespace tranship {

struct RecoveredState {
  StateMap state;
  std::unique_ptr<tranlog::Writer> writer;  // null in restore mode
  Lineage lineage;
  uint64_t tid = 0;              // last applied TID
  uint64_t last_commit_us = 0;
  bool commits_suspended = false;
  DurableEnd end;
  uint64_t records_replayed = 0;
  uint64_t torn_bytes_cut = 0;
  bool had_extent = false;
  bool entered_restore_mode = false;  // startstone -R on a primary: not yet in the extent
  uint64_t extent_tid = 0;       // TID the extent was taken at
  bool restoring = false;        // restore mode; `restore` holds the restored position
  RestoreProgress restore;
};

Result<RecoveredState> Recover(const EngineOptions& options, Env* env);

// Applies a commit record's operations to `state` (other record types change no keys).
Status ApplyRecord(const tranlog::RecordRef& rec, StateEdit* state);

// Bookkeeping shared by recovery and (later) restore: lineage, suspension.
void NoteRecord(const tranlog::RecordRef& rec, Lineage* lineage, bool* commits_suspended);

}  // namespace tranship
