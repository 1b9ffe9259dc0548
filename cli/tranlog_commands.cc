// tranship tranlog info FILE (copydbf -i FILE) and tranship tranlog verify FILE|DIR...
// | --stone NAME.
// Both read the files directly: they work on a running stone's tranlogs, on archive
// logs and on copies, without a stone.

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "home/home.h"
#include "tranlog/reader.h"

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

namespace {

// The stone of this home that keeps tranlogs in `dir` among several directories.
struct OwningStone {
  std::string name;
  std::vector<std::string> dirs;  // all of its tranlog directories, in its order
  std::string prefix;
};

std::string Canonical(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

std::optional<OwningStone> StoneWithDirectory(const Home& home, const std::string& dir) {
  for (const std::string& name : home.ListStones()) {
    Result<StoneConfig> c = home.LoadStoneConfig(name);
    if (!c.ok()) continue;
    std::vector<std::string> dirs = home.TranlogDirs(name, *c);
    for (const std::string& d : dirs) {
      if (Canonical(d) == Canonical(dir)) return OwningStone{name, dirs, c->tranlog_prefix};
    }
  }
  return std::nullopt;
}

// "2, 4 and 6", or "2, 4, ... 98 (49 files)" when long.
std::string IdList(const std::vector<uint64_t>& ids) {
  if (ids.size() > 6) {
    return fmt::format("{}, {}, ... {} ({} files)", ids[0], ids[1], ids.back(), ids.size());
  }
  std::string out;
  for (size_t i = 0; i < ids.size(); i++) {
    out += fmt::format("{}{}", i == 0 ? "" : i + 1 == ids.size() ? " and " : ", ", ids[i]);
  }
  return out;
}

// The common stride of the file ids, when it is more than 1: every Nth file is here, as
// in one of N tranlog directories of a stone.
uint64_t Stride(const std::map<uint64_t, std::string>& files) {
  uint64_t g = 0;
  for (auto it = files.begin(); std::next(it) != files.end(); ++it) {
    g = std::gcd(g, std::next(it)->first - it->first);
  }
  return g;
}

}  // namespace

// tranship tranlog verify FILE|DIR [FILE|DIR...] | --stone NAME
Status TranlogVerify(Context& ctx, const Args& args) {
  Env* env = Env::Default();
  std::vector<std::string> dirs;
  std::string prefix;
  std::string what;  // names the target in the closing line
  if (args.Has("--stone")) {
    if (!args.positional.empty()) {
      return Status::InvalidArgument(
          "tranship tranlog verify takes either files and directories or --stone NAME, not "
          "both.");
    }
    const std::string name = args.Value("--stone");
    TRANSHIP_RETURN_IF_ERROR(ctx.home.RequireStone(name));
    Result<StoneConfig> c = ctx.home.LoadStoneConfig(name);
    if (!c.ok()) return c.status();
    dirs = ctx.home.TranlogDirs(name, *c);
    prefix = c->tranlog_prefix;
    what = fmt::format("The tranlogs of the stone '{}'", name);
  } else if (args.positional.empty()) {
    return Status::InvalidArgument(
        "tranship tranlog verify needs files, directories or --stone NAME.");
  }
  // Every file id once, wherever it was found.
  std::map<uint64_t, std::string> files;
  auto add = [&](uint64_t id, const std::string& path) -> Status {
    auto [it, fresh] = files.emplace(id, path);
    if (!fresh && it->second != path) {
      return Status::InvalidArgument(
          fmt::format("Tranlog {} is both {} and {}: give the directories of one stone.", id,
                      it->second, path));
    }
    return Status::OK();
  };
  for (const std::string& target : args.positional) {
    struct stat st;
    if (::stat(target.c_str(), &st) != 0) {
      return Status::NotFound(fmt::format("{} does not exist.", target));
    }
    if (!S_ISDIR(st.st_mode)) {
      Result<tranlog::FileSummary> sum = tranlog::SummarizeFile(env, target);
      // A file that cannot even be summarized is reported by the verification itself.
      TRANSHIP_RETURN_IF_ERROR(add(sum.ok() ? sum->header.file_id : UINT64_MAX - files.size(),
                                   target));
      continue;
    }
    dirs.push_back(target);
  }
  const size_t named_dirs = dirs.size();
  for (const std::string& dir : dirs) {
    const std::string p = prefix.empty() ? tranlog::GuessPrefix(env, dir) : prefix;
    Result<tranlog::TranlogSet> set = tranlog::ListTranlogs(env, {dir}, p);
    if (!set.ok()) return set.status();
    for (const auto& [id, path] : set->files) TRANSHIP_RETURN_IF_ERROR(add(id, path));
  }
  if (what.empty()) {
    what = args.positional.size() == 1 ? args.positional[0]
                                       : fmt::format("{} and {} more", args.positional[0],
                                                     args.positional.size() - 1);
  }
  if (files.empty()) {
    return Status::NotFound(fmt::format("{} holds no tranlog files ({}<N>.dbf).", what,
                                        prefix.empty() ? "tranlog" : prefix));
  }

  // Directories given that are some, not all, of a stone's: the files of the others
  // belong there, and the sequence is checked only as far as it can be.
  std::function<bool(uint64_t)> elsewhere;
  std::function<std::string(const std::vector<uint64_t>&)> elsewhere_note;
  if (!args.Has("--stone") && named_dirs > 0 && named_dirs == args.positional.size()) {
    if (std::optional<OwningStone> owner = StoneWithDirectory(ctx.home, dirs[0])) {
      std::set<size_t> given;
      for (size_t i = 0; i < owner->dirs.size(); i++) {
        for (const std::string& d : dirs) {
          if (Canonical(d) == Canonical(owner->dirs[i])) given.insert(i);
        }
      }
      if (given.size() < owner->dirs.size()) {
        const size_t n = owner->dirs.size();
        elsewhere = [given, n](uint64_t id) { return given.count((id - 1) % n) == 0; };
        std::vector<std::string> others;
        for (size_t i = 0; i < n; i++) {
          if (!given.count(i)) others.push_back(owner->dirs[i]);
        }
        elsewhere_note = [given_n = given.size(), n, owner = *owner, others](
                             const std::vector<uint64_t>& ids) {
          return fmt::format(
              "{} of the {} tranlog directories of the stone '{}' (STN_TRAN_LOG_DIRECTORIES), "
              "which keeps tranlog N in directory (N-1) mod {}: tranlogs {} belong in {}, and "
              "the sequence across them was not checked. To check all of it run 'tranship "
              "tranlog verify --stone {}'.",
              given_n == 1 ? "This is one" : fmt::format("These are {}", given_n), n,
              owner.name, n, IdList(ids), fmt::join(others, ", "), owner.name);
        };
      }
    }
  }

  std::vector<std::string> paths;
  for (const auto& [id, path] : files) paths.push_back(path);
  tranlog::VerifyReport report = tranlog::VerifyFiles(
      env, paths, [](const std::string& line) { fmt::print("{}\n", line); }, elsewhere);
  for (const std::string& note : report.notes) fmt::print("note: {}\n", note);
  if (!report.elsewhere.empty()) {
    fmt::print("note: {}\n", elsewhere_note(report.elsewhere));
  } else if (!report.ok() && !elsewhere && named_dirs > 0 && Stride(files) > 1) {
    fmt::print("note: only one file in {} of the sequence is here, as in one of {} tranlog "
               "directories of a stone (STN_TRAN_LOG_DIRECTORIES); if so, give all of them "
               "or --stone NAME\n",
               Stride(files), Stride(files));
  }
  for (const std::string& error : report.errors) fmt::print("error: {}\n", error);
  if (!report.ok()) {
    return Status::Corruption(fmt::format(
        "{} is damaged: {} error(s) in {} file(s), the first: {}", what, report.errors.size(),
        report.files, report.errors.front()));
  }
  fmt::print("ok: {} files, {} records, {} bytes\n", report.files, report.records, report.bytes);
  return Status::OK();
}

}  // namespace tranship::cli
