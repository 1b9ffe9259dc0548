#include "stone/backup_admin.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "restore/backup.h"
#include "restore/apply.h"
#include "restore/control.h"

namespace tranship {
namespace {

Result<std::string> OneFile(std::string_view verb, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Status::InvalidArgument(fmt::format(
        "admin verb '{}' takes one argument, the backup file (got {})", verb, args.size()));
  }
  if (args[0].empty() || args[0][0] != '/') {
    return Status::InvalidArgument(fmt::format(
        "the backup file '{}' is not an absolute path. To fix this give the full path.", args[0]));
  }
  return args[0];
}

// restore-from-backup replaces the state under a restore in progress or a receiver
// feeding it: both would go on from a position that no longer exists.
Status CheckCanReplaceState(Stone* stone, const AdminContext& ctx) {
  if (stone->restore()->GetStatus().continuous) {
    return Status::Busy(fmt::format(
        "continuous restore is running on the stone '{}'. To fix this run 'tranship admin {} "
        "stop-continuous-restore' first.", ctx.stone_name, ctx.stone_name));
  }
  uint32_t receivers = ctx.logreceivers ? ctx.logreceivers() : 0;
  if (receivers > 0) {
    return Status::Busy(fmt::format(
        "{} logreceiver{} logged in to the stone '{}'. To fix this stop {} first "
        "(stoplogreceiver -P PORT -s {}).", receivers, receivers == 1 ? " is" : "s are",
        ctx.stone_name, receivers == 1 ? "it" : "them", ctx.stone_name));
  }
  return Status::OK();
}

Result<std::string> FullBackupVerb(Stone* stone, const AdminContext& ctx,
                                   const std::string& path) {
  BackupTracker& tracker = *ctx.backups;
  TRANSHIP_RETURN_IF_ERROR(tracker.Begin("full-backup " + path));
  Result<BackupDone> done = FullBackup(stone, ctx.stone_name, path,
                                       [&](const BackupProgress& p) { tracker.Update(p); });
  if (!done.ok()) {
    tracker.End(fmt::format("full-backup {} failed: {}", path, done.status().message()));
    return done.status();
  }
  std::string text = DescribeBackup(*done, path);
  tracker.End(text);
  return text;
}

Result<std::string> RestoreVerb(Stone* stone, const AdminContext& ctx, const std::string& path) {
  TRANSHIP_RETURN_IF_ERROR(CheckCanReplaceState(stone, ctx));
  BackupTracker& tracker = *ctx.backups;
  TRANSHIP_RETURN_IF_ERROR(tracker.Begin("restore-from-backup " + path));
  uint64_t t0 = MonotonicNanos();
  BackupHeader h;
  StateMap state;
  Status s = ReadBackupFile(Env::Default(), path, &h, &state,
                            [&](const BackupProgress& p) { tracker.Update(p); });
  // Checked again: a restore or a receiver may have started while the file was read.
  if (s.ok()) s = CheckCanReplaceState(stone, ctx);
  RestoredPosition pos{h.lineage, h.position, h.tid, h.chain, h.last_commit_us};
  if (s.ok()) s = stone->engine()->EnterRestoreMode(std::move(state), pos);
  if (!s.ok()) {
    tracker.End(fmt::format("restore-from-backup {} failed: {}", path, s.message()));
    TS_LOG_ERROR("restore-from-backup {}: {}", path, s.message());
    return s;
  }
  std::string text = fmt::format(
      "restored {} ({} keys, the backup of '{}' taken {}) in {:.1f} s: the stone '{}' is in "
      "restore mode at TID {} (lineage {}, {}). Carry it forward with 'tranship admin {} "
      "restore-from-archive-logs DIR...' or 'continuous-restore DIR...' over the tranlogs of "
      "'{}' from tranlog {} on.",
      path, h.keys, h.stone_name, FormatLocalTime(h.created_us), (MonotonicNanos() - t0) / 1e9,
      ctx.stone_name, h.tid, h.lineage.ToHex(), h.position.ToString(), ctx.stone_name,
      h.stone_name, h.position.file_id);
  TS_LOG_INFO("{}", text);
  tracker.End(fmt::format("restore-from-backup {} finished at TID {}", path, h.tid));
  return text;
}

}  // namespace

bool IsBackupVerb(std::string_view verb) {
  return verb == "full-backup" || verb == "restore-from-backup" || verb == "backup-status";
}

Result<std::string> RunBackupVerb(Stone* stone, const AdminContext& ctx, std::string_view verb,
                                  const std::vector<std::string>& args) {
  if (verb == "backup-status") {
    if (!args.empty()) {
      return Status::InvalidArgument(
          fmt::format("admin verb 'backup-status' takes no arguments (got '{}')", args[0]));
    }
    return ctx.backups->StatusLine();
  }
  Result<std::string> path = OneFile(verb, args);
  if (!path.ok()) return path.status();
  if (verb == "full-backup") return FullBackupVerb(stone, ctx, *path);
  return RestoreVerb(stone, ctx, *path);
}

}  // namespace tranship
