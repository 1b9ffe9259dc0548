#include "stone/restore_admin.h"

#include <fmt/format.h>

#include "restore/control.h"
#include "stone/stone.h"

namespace tranship {

const char* const kRestoreAdminVerbs =
    "restore-from-archive-logs DIR... [--to-end-of-log N] [--prefix P], "
    "restore-from-current-logs, continuous-restore DIR... [--prefix P], "
    "stop-continuous-restore, restore-status [--json], commit-restore [--accept-gap], "
    "suspend-commits, resume-commits";

namespace {

constexpr std::string_view kVerbs[] = {
    "restore-from-archive-logs", "restore-from-current-logs", "continuous-restore",
    "stop-continuous-restore",   "restore-status",            "commit-restore",
    "suspend-commits",           "resume-commits"};

// The positional arguments and the options of one verb; unknown options are errors.
struct Parsed {
  std::vector<std::string> positional;
  std::optional<std::string> prefix;
  std::optional<std::string> to_end_of_log;
  bool json = false;
  bool accept_gap = false;
};

Result<Parsed> Parse(std::string_view verb, const std::vector<std::string>& args,
                     std::initializer_list<std::string_view> allowed, std::string_view usage) {
  Parsed p;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(fmt::format("{}. Usage: tranship admin NAME {}", why, usage));
  };
  auto ok = [&](std::string_view opt) {
    return std::find(allowed.begin(), allowed.end(), opt) != allowed.end();
  };
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) {
      if (!ok("DIR")) return bad(fmt::format("'{}' takes no argument '{}'", verb, a));
      p.positional.push_back(a);
      continue;
    }
    if (!ok(a)) return bad(fmt::format("'{}' has no option '{}'", verb, a));
    if (a == "--json") {
      p.json = true;
    } else if (a == "--accept-gap") {
      p.accept_gap = true;
    } else {
      if (i + 1 >= args.size()) return bad(fmt::format("'{}' needs a value", a));
      (a == "--prefix" ? p.prefix : p.to_end_of_log) = args[++i];
    }
  }
  if (ok("DIR") && p.positional.empty()) return bad(fmt::format("'{}' needs a directory", verb));
  return p;
}

}  // namespace

bool IsRestoreVerb(std::string_view verb) {
  return std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs);
}

Result<std::string> RunRestoreVerb(Stone* stone, const AdminContext& ctx, std::string_view verb,
                                   const std::vector<std::string>& args) {
  RestoreControl* rc = stone->restore();
  // The remedies name the stone as restore's facts do: by its repository's name.
  const std::string& name = stone->repository().stone_name;
  if (verb == "restore-from-archive-logs") {
    auto p = Parse(verb, args, {"DIR", "--to-end-of-log", "--prefix"},
                   "restore-from-archive-logs DIR... [--to-end-of-log N] [--prefix P]");
    if (!p.ok()) return p.status();
    uint64_t to_end = 0;
    if (p->to_end_of_log) {
      char* end = nullptr;
      to_end = std::strtoull(p->to_end_of_log->c_str(), &end, 10);
      if (p->to_end_of_log->empty() || *end != '\0' || to_end == 0) {
        return Status::InvalidArgument(fmt::format(
            "--to-end-of-log takes a tranlog file id (a number from 1), not '{}'",
            *p->to_end_of_log));
      }
    }
    return AddStoneHint(rc->FromArchive(p->positional, p->prefix, to_end), name,
                        p->positional);
  }
  if (verb == "restore-from-current-logs") {
    auto p = Parse(verb, args, {}, "restore-from-current-logs");
    if (!p.ok()) return p.status();
    return AddStoneHint(rc->FromCurrentLogs(), name,
                        stone->repository().tranlog_dirs);
  }
  if (verb == "continuous-restore") {
    auto p = Parse(verb, args, {"DIR", "--prefix"}, "continuous-restore DIR... [--prefix P]");
    if (!p.ok()) return p.status();
    return AddStoneHint(rc->StartContinuous(p->positional, p->prefix), name);
  }
  if (verb == "stop-continuous-restore") {
    auto p = Parse(verb, args, {}, "stop-continuous-restore");
    if (!p.ok()) return p.status();
    return rc->StopContinuous();
  }
  if (verb == "restore-status") {
    auto p = Parse(verb, args, {"--json"}, "restore-status [--json]");
    if (!p.ok()) return p.status();
    RestoreStatus s = rc->GetStatus();
    return p->json ? FormatRestoreStatusJson(s, ctx.stone_name)
                   : FormatRestoreStatus(s, ctx.stone_name);
  }
  if (verb == "commit-restore") {
    auto p = Parse(verb, args, {"--accept-gap"}, "commit-restore [--accept-gap]");
    if (!p.ok()) return p.status();
    uint32_t receivers = ctx.logreceivers ? ctx.logreceivers() : 0;
    return AddStoneHint(rc->CommitRestore(p->accept_gap, receivers), name);
  }
  if (verb == "suspend-commits") {
    auto p = Parse(verb, args, {}, "suspend-commits");
    if (!p.ok()) return p.status();
    Result<uint64_t> tid = stone->engine()->SuspendCommits();
    if (!tid.ok()) return AddStoneHint(tid.status(), stone->engine()->options().stone_name);
    return fmt::format(
        "Commits to the stone '{}' are suspended: failover checkpoint at TID {}. They stay "
        "suspended across restarts until 'tranship admin {} resume-commits'.",
        ctx.stone_name, *tid, ctx.stone_name);
  }
  if (verb == "resume-commits") {
    auto p = Parse(verb, args, {}, "resume-commits");
    if (!p.ok()) return p.status();
    Result<uint64_t> tid = stone->engine()->ResumeCommits();
    if (!tid.ok()) return AddStoneHint(tid.status(), stone->engine()->options().stone_name);
    return fmt::format("Commits to the stone '{}' resumed at TID {}.", ctx.stone_name, *tid);
  }
  return Status::InvalidArgument(fmt::format("unknown restore verb '{}'", verb));
}

}  // namespace tranship
