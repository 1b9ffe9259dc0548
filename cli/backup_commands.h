#pragma once
// Backups from the command line (cli/backup_commands.cc).

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cli/commands.h"
#include "engine/engine.h"

namespace tranship::cli {

// full-backup and restore-from-backup: the admin verbs that take a file and show
// progress on a terminal.
bool IsBackupAdminCommand(std::string_view verb);
Status BackupAdminCommand(Context& ctx, const std::string& name, const std::string& verb,
                          std::vector<std::string> args);

// `stone create --from-backup FILE`: verifies FILE and writes an extent in restore mode
// at the backup's position into `options`' extent directory (its tranlog directories
// stay empty). Returns how the stone was made, for the command's message.
Result<std::string> SeedFromBackup(const EngineOptions& options, const std::string& file);

}  // namespace tranship::cli
