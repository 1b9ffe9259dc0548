#pragma once
// Replays archive tranlogs into a stone in restore mode: finds the file that holds the
// record after the restored position, reads it (and the files after it, following log
// switches) and hands the records to RestoreTarget::ApplyRestored in batches.
//
// One ArchiveReplayer serves both a one-shot restore (restore-from-archive-logs: step
// until it is no longer making progress) and continuous restore (step, and when caught
// up wait for more): a FileReader re-reads a growing file, so a file still being written
// by a logreceiver is followed record by record. A record is "complete" once all of its
// bytes are in the file; an incomplete tail is simply not there yet.
//
// How a replay stops (docs/standby.md): the end of the available files; the end of file
// N (--to-end-of-log N); a gap (the file holding the next record is missing: named);
// a fork in time (the archive holds another history: both named); damage (a record
// fails its checks and valid records follow it: file and offset named).
//
// REQUIRES: one thread at a time.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "restore/target.h"
#include "tranlog/reader.h"

namespace tranship {

struct ArchiveSource {
  std::vector<std::string> dirs;
  std::string prefix = "tranlog";
};

enum class ReplayStop { kNone, kEndOfFiles, kEndOfFile, kGap, kFork, kDamage, kError };
const char* ReplayStopName(ReplayStop s);

class ArchiveReplayer {
 public:
  // `to_end_of_log`: stop after the last record of that file id (0: no limit).
  ArchiveReplayer(RestoreTarget* target, Env* env, ArchiveSource source, uint64_t to_end_of_log = 0);

  enum class Step {
    kProgress,  // records were read (applied or skipped) or a file was opened: call again
    kCaughtUp,  // no complete record after the restored position is available now
    kStopped,   // gap, fork, damage, error or the end of file N: see stop() and why()
  };
  // Reads and applies up to `max_records` records in one batch (one hold of the state
  // lock).
  Step Next(size_t max_records);

  ReplayStop stop() const { return stop_; }
  const std::string& why() const { return why_; }
  // The missing tranlog(s) after a gap, e.g. "prodtranlog6.dbf"; empty otherwise.
  const std::string& missing() const { return missing_; }
  uint64_t files_opened() const { return files_opened_; }
  uint64_t applied() const { return applied_; }
  uint64_t skipped() const { return skipped_; }
  // The file being read ("" between files).
  std::string current_file() const { return reader_ ? reader_->path() : std::string(); }
  const ArchiveSource& source() const { return source_; }
  // A failover checkpoint was applied and nothing has undone it (yet).
  bool failover_pending() const;

 private:
  Step Open(const RestoredPosition& at);
  Step Stop(ReplayStop kind, std::string why);
  std::string Find(uint64_t file_id) const;  // "" if no dir holds it
  std::string Name(uint64_t file_id) const { return tranlog::FileName(source_.prefix, file_id); }

  RestoreTarget* target_;
  Env* env_;
  ArchiveSource source_;
  uint64_t to_end_of_log_;
  std::unique_ptr<tranlog::FileReader> reader_;
  uint64_t reader_file_id_ = 0;
  uint64_t min_next_file_ = 0;  // after a log switch that was skipped: open at least this
  bool end_seen_once_ = false;  // end of a file with a later file present, seen once
  uint64_t next_listing_ns_ = 0;  // when to look for a junction's file again
  ReplayStop stop_ = ReplayStop::kNone;
  std::string why_;
  std::string missing_;
  uint64_t files_opened_ = 0;
  uint64_t applied_ = 0;
  uint64_t skipped_ = 0;
};

}  // namespace tranship
