#pragma once
// Online full backups and restoring them (docs/backup-format.md, docs/standby.md).
//
// A full backup asks the engine for a copy of the state between two batches
// (RestoreTarget::SnapshotState: the engine's log-writer thread copies it, as a
// checkpoint does) and writes that copy on the calling thread, so the stone keeps committing while a
// multi-GB file is written. The backup holds exactly the state at one TID, with the
// lineage, chain and tranlog position of that TID.
//
// Progress: the admin verb runs on one connection and returns one text, so the CLI
// draws its progress line by polling `admin NAME backup-status` on a second connection;
// BackupTracker is what that verb reports.

#include <cstdint>
#include <mutex>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "restore/backup_format.h"
#include "restore/target.h"

namespace tranship {

// The one backup or restore-from-backup a stone runs at a time, and the last one's end.
// Thread-safe.
class BackupTracker {
 public:
  // `what` is the verb and file ("full-backup /backups/prod.bak"). Busy while another
  // one runs.
  Status Begin(std::string what);
  void Update(const BackupProgress& p);
  // `result` is the line the verb answered (its message if it failed).
  void End(std::string result);
  // One line. While one runs it starts with `what`:
  //   "full-backup /b/prod.bak: 120000 of 500000 keys (24%), 96.0 MB, 3 s"
  // otherwise "no backup is running; the last one: ..." or "... none since the stone
  // started".
  std::string StatusLine() const;
  bool running() const;

 private:
  mutable std::mutex mu_;
  bool running_ = false;
  std::string what_;
  BackupProgress progress_;
  uint64_t started_ns_ = 0;
  std::string last_;
};

struct BackupDone {
  BackupHeader header;  // what was written: TID, position, keys
  uint64_t bytes = 0;
  double seconds = 0;
};

// Writes a full backup of `target`'s state to `path` (absolute). `env` nullptr: the
// default. Failures are one line naming the file; nothing is left behind.
Result<BackupDone> FullBackup(RestoreTarget* target, const std::string& stone_name,
                              const std::string& path, const BackupProgressFn& progress,
                              Env* env = nullptr);

// "full-backup of 'prod' at TID 42 (lineage …, tranlog 3 offset 4096): 1000 keys, 1.2 MB
//  in 0.3 s to /b/prod.bak"
std::string DescribeBackup(const BackupDone& done, const std::string& path);

}  // namespace tranship
