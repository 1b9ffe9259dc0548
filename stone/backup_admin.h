#pragma once
// The backup admin verbs of a stone: full-backup FILE, restore-from-backup FILE and
// backup-status (docs/standby.md, "Backups"; file format in docs/backup-format.md).
//
// They run on the stone server's admin worker thread like every admin verb. Their reply
// is one text, so progress is not streamed: `backup-status`, polled by the CLI on a
// second connection while the verb runs, draws the operator's progress line.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "stone/stone.h"
#include "stone/admin.h"

namespace tranship {

bool IsBackupVerb(std::string_view verb);

// full-backup FILE         -> "full-backup of 'prod' at TID N (lineage L, tranlog F
//                              offset O): K keys, M MB in S s to FILE"
// restore-from-backup FILE -> "restored FILE ...: the stone is in restore mode at TID N ..."
// backup-status            -> BackupTracker::StatusLine()
// FILE must be an absolute path (the CLI makes it one). Thread-safe.
Result<std::string> RunBackupVerb(Stone* stone, const AdminContext& ctx, std::string_view verb,
                                  const std::vector<std::string>& args);

}  // namespace tranship
