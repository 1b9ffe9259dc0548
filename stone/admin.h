#pragma once
// The admin verbs a stone serves (the client protocol's `admin` request): each turns
// an operator command into engine calls and returns the text to show the operator.
//
// The stone server runs them on a libuv worker thread, because checkpoint and digest
// take as long as the state is big and must not stall the commit loop.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "restore/backup.h"
#include "stone/stone.h"

namespace tranship {

struct AdminContext {
  std::string stone_name;
  std::string extent_dir;  // empty: file-size-report leaves the extent out
  // The backup or restore-from-backup running now, for backup-status.
  std::shared_ptr<BackupTracker> backups = std::make_shared<BackupTracker>();
  // Logreceivers logged in to the stone now (verbs that replace or reopen the state
  // refuse while any is); null: none can be. Called from the admin worker thread.
  std::function<uint32_t()> logreceivers;
};

// The verbs RunAdminVerb knows, for messages and help text.
extern const char* const kAdminVerbs;

// checkpoint        -> "checkpoint at TID N"
// start-new-log     -> "started tranlog N"
// file-size-report  -> a table of the tranlog files, their total and the extent
// digest            -> "tid N keys K sha256 HEX" (the hash is the last word)
// full-backup FILE, restore-from-backup FILE, backup-status: stone/backup_admin.h
// Anything else is InvalidArgument naming the valid verbs.
// Thread-safe (the engine is).
Result<std::string> RunAdminVerb(Stone* stone, const AdminContext& ctx, std::string_view verb,
                                 const std::vector<std::string>& args);

}  // namespace tranship
