// tranship failover --emergency: the primary is gone. Stop the standby's logreceiver,
// stop-continuous-restore (it finishes the complete records it has), report from
// restore-status what was replayed, commit-restore; then, if the old primary's tranlogs
// are readable here, what it logged that the new primary never saw.

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "failover/failover.h"
#include "failover/steps.h"
#include "home/config.h"
#include "home/stone_state.h"
#include "tranlog/reader.h"

namespace tranship::failover {
namespace {

// Records of the primary's tranlogs after TID `after` (the standby's restored TID):
// what the new primary never saw.
struct LeftBehind {
  std::string newest;        // path of the newest tranlog
  uint64_t records = 0, commits = 0, last_tid = 0;
  std::optional<uint64_t> chain_at;  // the chain of the record at TID `after`, if read
};

Result<LeftBehind> ReadLeftBehind(const std::vector<std::string>& dirs,
                                  const std::string& prefix, uint64_t after) {
  Env* env = Env::Default();
  Result<tranlog::TranlogSet> set = tranlog::ListTranlogs(env, dirs, prefix);
  if (!set.ok()) return set.status();
  if (set->files.empty()) {
    return Status::NotFound(fmt::format("no tranlog {}<N>.dbf in {}", prefix, dirs.front()));
  }
  LeftBehind lb;
  lb.newest = set->files.rbegin()->second;
  for (auto it = set->files.rbegin(); it != set->files.rend(); ++it) {
    Result<std::unique_ptr<tranlog::FileReader>> f = tranlog::FileReader::Open(env, it->second);
    if (!f.ok()) return f.status();
    tranlog::RecordRef rec;
    while ((*f)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
      lb.last_tid = std::max(lb.last_tid, rec.header.tid);
      if (rec.header.tid == after) lb.chain_at = rec.header.chain;
      if (rec.header.tid <= after) continue;
      lb.records++;
      lb.commits += rec.header.type == tranlog::RecordType::kCommit;
    }
    if ((*f)->header().first_tid <= after) break;
  }
  return lb;
}

}  // namespace

Status EmergencyFailover(const FailoverOptions& o) {
  if (!o.standby) return Status::InvalidArgument("an emergency failover needs a standby");
  const std::optional<StoneRef>& primary = o.primary;
  const StoneRef& s = *o.standby;
  std::string old_name = primary ? primary->name : std::string("the old primary");
  fmt::print("Emergency failover to {}\n", s.Label());
  Steps steps;
  uint64_t start = MonotonicNanos();

  bool continuous = false;
  Result<std::string> r = steps.Run("check " + s.name, [&](const Steps::Progress&) -> Result<std::string> {
    if (primary && home::ProbeStone(primary->home, primary->name).state ==
                       home::RunState::kRunning) {
      return Status::Busy(fmt::format(
          "'{}' is still running: two primaries would accept commits. Stop it ('{}') or use "
          "--planned",
          primary->name, primary->Command("stone stop " + primary->name)));
    }
    Result<StoneInfo> si = s.Info();
    if (!si.ok()) return si.status();
    if (!si->stats.restore_mode) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is not in restore mode: it is a primary already ({})", s.name, si->state));
    }
    continuous = si->restore_flags & kInfoRestoreContinuous;
    return fmt::format("{} at TID {}", si->state, si->restored.tid);
  });
  if (!r.ok()) {
    return Status::InvalidArgument(fmt::format(
        "Emergency failover stopped before it changed anything: {}.", r.status().message()));
  }
  auto stopped = [&](const std::string& step, const Status& why) {
    return Status::Busy(fmt::format(
        "Emergency failover stopped at '{}': {}. '{}' is still in restore mode (see '{}'); fix "
        "that and run this failover again.",
        step, why.message(), s.name, s.Command(fmt::format("admin {} restore-status", s.name))));
  };

  std::string title = "stop the logreceiver of " + s.name;
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    Result<std::string> done = StopReceiversOf(s, o.receiver_port, o.timeout_s);
    if (!done.ok()) return done.status();
    return done->empty() ? std::string("none ran on this host") : "stopped " + *done;
  });
  if (!r.ok()) return stopped(title, r.status());

  title = "stop-continuous-restore on " + s.name;
  if (continuous) {
    r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
      Result<std::string> text = s.Admin("stop-continuous-restore");
      if (!text.ok()) return text.status();
      return std::string();
    });
    if (!r.ok()) return stopped(title, r.status());
  } else {
    steps.Skip(title, "not in continuous restore");
  }

  uint64_t restored_tid = 0;
  std::string restored_chain;
  title = "restore-status of " + s.name;
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    Result<JsonValue> st = s.RestoreStatus();
    if (!st.ok()) return st.status();
    const JsonValue* at = st->Get("restored");
    if (at == nullptr) return Status::Corruption("restore-status has no restored position");
    restored_tid = at->Uint("tid");
    restored_chain = at->Str("chain");
    std::string gap = st->Str("gap");
    if (!gap.empty() && !o.accept_gap) {
      return Status::NotFound(fmt::format(
          "its restore stopped at a gap: {} is missing, so it lacks records the primary "
          "committed; restore that tranlog, or accept the loss with --accept-gap",
          gap));
    }
    std::string lag = st->Bool("lag_known")
                          ? fmt::format("; newest archived TID {} ({} bytes not replayed)",
                                        st->Get("archive_end")->Uint("tid"), st->Uint("lag_bytes"))
                          : std::string("; no archive seen");
    return fmt::format("restored TID {} (tranlog {} offset {}), commit time {}{}{}", restored_tid,
                       at->Uint("file_id"), at->Uint("offset"),
                       at->Uint("commit_time_us") ? FormatUtc(at->Uint("commit_time_us"))
                                                  : std::string("none"),
                       lag, gap.empty() ? "" : "; accepting the gap at " + gap);
  });
  if (!r.ok()) return stopped(title, r.status());

  title = "commit-restore on " + s.name;
  uint64_t accepting = 0;
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    std::vector<std::string> verb_args;
    if (o.accept_gap) verb_args.push_back("--accept-gap");
    Result<std::string> text = s.Admin("commit-restore", verb_args);
    if (!text.ok()) return text.status();
    accepting = MonotonicNanos();
    return NewLineage(*text);
  });
  if (!r.ok()) return stopped(title, r.status());

  Result<std::string> until = ProbeStep(steps, s, o.probe_key, "emergency failover", &accepting);
  if (!until.ok()) return until.status();
  fmt::print("Failover time: {} from the start {}.\n", FormatDuration(accepting - start), *until);
  fmt::print("'{}' is the primary: it holds {}'s history up to TID {} and goes on from there "
             "under a new lineage.\n",
             s.name, old_name, restored_tid);

  // What the old primary logged that the new one never saw, if its tranlogs are here.
  std::vector<std::string> dirs;
  std::string prefix;
  if (o.primary_tranlogs) {
    dirs = {*o.primary_tranlogs};
    prefix = tranlog::GuessPrefix(Env::Default(), dirs[0]);
  } else if (primary) {
    Result<home::StoneConfig> c = primary->home.LoadStoneConfig(primary->name);
    if (!c.ok()) return c.status();
    dirs = primary->home.TranlogDirs(primary->name, *c);
    prefix = c->tranlog_prefix;
  }
  if (dirs.empty()) {
    fmt::print("Left behind: unknown (--primary or --primary-tranlogs DIR names the old "
               "primary's tranlogs). Reseed {} from a backup of '{}' before it follows.\n",
               old_name, s.name);
    return Status::OK();
  }
  LeftBehind lb;
  title = fmt::format("read {}'s tranlogs after TID {}", old_name, restored_tid);
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    Result<LeftBehind> got = ReadLeftBehind(dirs, prefix, restored_tid);
    if (!got.ok()) return got.status();
    lb = *got;
    return fmt::format("last TID {}", lb.last_tid);
  });
  if (!r.ok()) {
    return Status::IOError(fmt::format(
        "The failover is done ('{}' is the primary), but {}'s tranlogs could not be read: {}.",
        s.name, old_name, r.status().message()));
  }
  fmt::print("tranlog info of {}'s last tranlog:\n", old_name);
  if (o.print_tranlog_info) o.print_tranlog_info(lb.newest);
  std::string same = !lb.chain_at ? std::string()
                     : fmt::format("{:016x}", *lb.chain_at) == restored_chain
                         ? fmt::format(" (TID {} has the same chain in both: one history)",
                                       restored_tid)
                         : fmt::format(" (TID {} has another chain in {}'s tranlogs: not one "
                                       "history)",
                                       restored_tid, old_name);
  if (lb.records == 0) {
    fmt::print("Left behind: nothing; {}'s last record is TID {}{}.\n", old_name, lb.last_tid,
               same);
  } else {
    fmt::print("Left behind: {} records ({} commits), TIDs {} to {}, that '{}' never "
               "replayed{}.\n",
               lb.records, lb.commits, restored_tid + 1, lb.last_tid, s.name, same);
  }
  fmt::print("Next: reseed {} from a backup of '{}' before it follows it (README, "
             "\"Failover\").\n",
             old_name, s.name);
  return Status::OK();
}

}  // namespace tranship::failover
