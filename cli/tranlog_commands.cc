// tranship tranlog info FILE (copydbf -i FILE) and tranship tranlog verify FILE|DIR.
// Both read the files directly: they work on a running stone's tranlogs, on archive
// logs and on copies, without a stone.

#include <sys/stat.h>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "engine/tranlog_reader.h"

namespace tranship::cli {
namespace {

std::string Time(uint64_t us) { return us == 0 ? "-" : FormatLocalTime(us); }

// How the file ends, in the words an operator deciding on a failover needs.
std::string Ending(const tranlog::FileSummary& s) {
  if (s.damage) {
    if (s.damage->zero_tail) {
      return fmt::format("open at offset {}, followed by {} bytes of preallocated space",
                         s.damage->offset, s.bytes - s.damage->offset);
    }
    if (s.damage->valid_data_after) {
      return fmt::format("corrupt at offset {}: {} (valid records follow)", s.damage->offset,
                         s.damage->reason);
    }
    return fmt::format("torn tail at offset {}: {} ({} bytes after the last valid record)",
                       s.damage->offset, s.damage->reason, s.bytes - s.end_offset);
  }
  if (s.ends_with_log_switch) {
    return fmt::format("closed with a log switch to file {}", s.next_file_id);
  }
  return "open, ends at a record boundary";
}

}  // namespace

Status TranlogInfo(Context&, const Args& args) {
  const std::string& path = args.positional[0];
  Result<tranlog::FileSummary> r = tranlog::SummarizeFile(Env::Default(), path);
  if (!r.ok()) {
    return r.status().IsNotFound()
               ? Status::NotFound(fmt::format("{} does not exist.", path))
               : Status::Corruption(fmt::format("{} is not a readable tranlog: {}", path,
                                                r.status().message()));
  }
  const tranlog::FileSummary& s = *r;
  std::string by_type;
  for (const auto& [type, n] : s.records_by_type) {
    by_type += fmt::format("{}{} {}", by_type.empty() ? "" : ", ", n,
                           tranlog::RecordTypeName(type));
  }
  fmt::print("file:          {}\n", s.path);
  fmt::print("file id:       {}\n", s.header.file_id);
  fmt::print("lineage:       {}\n", s.header.lineage.ToHex());
  fmt::print("created:       {}\n", Time(s.header.created_us));
  fmt::print("first TID:     {}  ({})\n", s.first_tid, Time(s.first_time_us));
  fmt::print("last TID:      {}  ({})\n", s.last_tid, Time(s.last_time_us));
  fmt::print("records:       {}{}\n", s.records, by_type.empty() ? "" : " (" + by_type + ")");
  fmt::print("bytes:         {} (valid records end at offset {})\n", s.bytes, s.end_offset);
  fmt::print("ends:          {}\n", Ending(s));
  return Status::OK();
}

Status TranlogVerify(Context&, const Args& args) {
  const std::string& target = args.positional[0];
  Env* env = Env::Default();
  struct stat st;
  if (::stat(target.c_str(), &st) != 0) {
    return Status::NotFound(fmt::format("{} does not exist.", target));
  }
  std::vector<std::string> paths;
  if (S_ISDIR(st.st_mode)) {
    std::string prefix = tranlog::GuessPrefix(env, target);
    Result<tranlog::TranlogSet> set = tranlog::ListTranlogs(env, {target}, prefix);
    if (!set.ok()) return set.status();
    for (const auto& [id, path] : set->files) paths.push_back(path);
    if (paths.empty()) {
      return Status::NotFound(fmt::format(
          "{} holds no tranlog files ({}<N>.dbf).", target, prefix));
    }
  } else {
    paths.push_back(target);
  }
  tranlog::VerifyReport report = tranlog::VerifyFiles(
      env, paths, [](const std::string& line) { fmt::print("{}\n", line); });
  for (const std::string& note : report.notes) fmt::print("note: {}\n", note);
  for (const std::string& error : report.errors) fmt::print("error: {}\n", error);
  if (!report.ok()) {
    return Status::Corruption(fmt::format(
        "{} is damaged: {} error(s) in {} file(s), the first: {}", target, report.errors.size(),
        report.files, report.errors.front()));
  }
  fmt::print("ok: {} files, {} records, {} bytes\n", report.files, report.records, report.bytes);
  return Status::OK();
}

}  // namespace tranship::cli
