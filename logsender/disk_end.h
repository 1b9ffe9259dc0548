#pragma once
// The primary's durable end read from its tranlog files, for when the stone cannot say
// (it is stopped, restarting, or its socket is unreachable).
//
// Scan() finds the end of the last valid record of the newest tranlog (stopping at
// damage or at the zeros of preallocated space), then fdatasyncs that file itself: every
// byte read was written before the sync began, so all of it is durable once it returns,
// whatever the stone does meanwhile. Nothing past that end is ever shipped.
//
// Scans are incremental: each continues from the end found before (or from an end the
// stone reported), so following a busy file costs only the new records.
//
// REQUIRES: loop thread only.

#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "tranlog/types.h"

namespace tranship::logsender {

class DiskEndScanner {
 public:
  DiskEndScanner(Env* env, std::vector<std::string> dirs, std::string prefix);

  Result<DurableEnd> Scan();
  // Continue later scans from `end` (a durable end reported by the stone).
  void Reset(const DurableEnd& end) { known_ = end; }
  // The next scan starts afresh from the newest files, trusting nothing found before
  // (the files may have been put back to an earlier state).
  void Forget() { known_.reset(); }

 private:
  Env* env_;
  std::vector<std::string> dirs_;
  std::string prefix_;
  std::optional<DurableEnd> known_;
};

// fdatasync of a file opened read-only: enough on Linux to make its written bytes
// durable.
Status SyncFileData(const std::string& path);

}  // namespace tranship::logsender
