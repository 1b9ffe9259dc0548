#include "stone/admin.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "stone/backup_admin.h"
#include "stone/restore_admin.h"

#include <algorithm>

namespace tranship {

const char* const kAdminVerbs =
    "checkpoint, start-new-log, file-size-report, digest, full-backup FILE, "
    "restore-from-backup FILE, backup-status";

namespace {

Status NoArgs(std::string_view verb, const std::vector<std::string>& args) {
  if (args.empty()) return Status::OK();
  return Status::InvalidArgument(
      fmt::format("admin verb '{}' takes no arguments (got '{}')", verb, args[0]));
}

std::string FileSizeReport(Stone* stone, const AdminContext& ctx) {
  struct Row {
    std::string name;
    uint64_t bytes;
  };
  std::vector<Row> rows;
  uint64_t total = 0;
  std::vector<TranlogFileInfo> files = stone->engine()->TranlogFiles();
  std::sort(files.begin(), files.end(),
            [](const TranlogFileInfo& a, const TranlogFileInfo& b) { return a.file_id < b.file_id; });
  for (const TranlogFileInfo& f : files) {
    rows.push_back({f.path, f.bytes});
    total += f.bytes;
  }
  rows.push_back({fmt::format("total of {} tranlog file{}", files.size(),
                              files.size() == 1 ? "" : "s"),
                  total});
  if (!ctx.extent_dir.empty()) {
    std::string extent = ctx.extent_dir + "/extent0.dbf";
    struct stat st;
    // An extent may legitimately be missing (a repository never checkpointed).
    if (::stat(extent.c_str(), &st) == 0) rows.push_back({extent, static_cast<uint64_t>(st.st_size)});
  }
  size_t width = 4;
  for (const Row& r : rows) width = std::max(width, r.name.size());
  std::string out = fmt::format("{:<{}}  {:>14}", "file", width, "bytes");
  for (const Row& r : rows) out += fmt::format("\n{:<{}}  {:>14}", r.name, width, r.bytes);
  return out;
}

}  // namespace

Result<std::string> RunAdminVerb(Stone* stone, const AdminContext& ctx, std::string_view verb,
                                 const std::vector<std::string>& args) {
  if (verb == "checkpoint") {
    TRANSHIP_RETURN_IF_ERROR(NoArgs(verb, args));
    Result<uint64_t> tid = stone->engine()->Checkpoint();
    if (!tid.ok()) return tid.status();
    return fmt::format("checkpoint at TID {}", *tid);
  }
  if (verb == "start-new-log") {
    TRANSHIP_RETURN_IF_ERROR(NoArgs(verb, args));
    Result<uint64_t> file = stone->engine()->StartNewLog();
    if (!file.ok()) return AddStoneHint(file.status(), stone->engine()->options().stone_name);
    return fmt::format("started tranlog {}", *file);
  }
  if (verb == "file-size-report") {
    TRANSHIP_RETURN_IF_ERROR(NoArgs(verb, args));
    return FileSizeReport(stone, ctx);
  }
  if (verb == "digest") {
    TRANSHIP_RETURN_IF_ERROR(NoArgs(verb, args));
    Digest d = stone->engine()->ComputeDigest();
    // The hash stays the last word so scripts can compare `awk '{print $NF}'`.
    return fmt::format("tid {} keys {} sha256 {}", d.tid, d.keys, d.sha256_hex);
  }
  if (IsBackupVerb(verb)) return RunBackupVerb(stone, ctx, verb, args);
  if (IsRestoreVerb(verb)) return RunRestoreVerb(stone, ctx, verb, args);
  return Status::InvalidArgument(fmt::format("unknown admin verb '{}' for stone '{}'; valid verbs: {}, {}",
                                             verb, ctx.stone_name, kAdminVerbs, kRestoreAdminVerbs));
}

}  // namespace tranship
