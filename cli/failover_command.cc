// tranship failover --planned | --emergency: the failover procedures of docs/standby.md
// run step by step against stones this host reaches through their TRANSHIP_HOMEs.
//
//   planned:   check, suspend-commits on the primary, wait until the standby's
//              continuous restore stopped at the failover checkpoint, compare digests
//              at that TID, stop the standby's logreceiver, commit-restore, [probe
//              write]; then the other standbys reach the same checkpoint.
//   emergency: check (the primary must not run), stop the logreceiver,
//              stop-continuous-restore, restore-status, commit-restore, [probe write];
//              then what of the primary's tranlogs was left behind.
//
// The command stops at the first step that fails with one line saying where things
// stand and what to do next. Every step can be run again: a rerun of a planned failover
// that stopped with the primary suspended continues from there.

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "cli/failover_steps.h"
#include "cli/stone_state.h"
#include "engine/restore_control.h"
#include "engine/tranlog_reader.h"

namespace tranship::cli {
namespace {

constexpr int kDefaultTimeoutS = 60;

struct Options {
  int timeout_s = kDefaultTimeoutS;
  uint64_t receiver_port = 0;   // 0: every logreceiver of the standby on this host
  std::string probe_key;        // "" : no probe write
  bool accept_gap = false;
};

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// The first word after "sha256 " in a digest line, shortened for the screen.
std::string ShortHash(const std::string& digest) {
  size_t at = digest.rfind(' ');
  return at == std::string::npos ? digest : digest.substr(at + 1, 16);
}

// Polls restore-status until `standby`'s continuous restore stopped at the failover
// checkpoint `tid`. Fails at once if it stopped anywhere else.
Result<std::string> WaitForFailoverCheckpoint(const StoneRef& standby, uint64_t tid,
                                              int timeout_s, const Steps::Progress& progress) {
  uint64_t restored = 0;
  Status s = PollUntil(timeout_s, [&]() -> Result<bool> {
    Result<JsonValue> st = standby.RestoreStatus();
    if (!st.ok()) return st.status();
    const JsonValue* at = st->Get("restored");
    restored = at ? at->Uint("tid") : 0;
    if (!st->Bool("restore_mode")) {
      return Status::InvalidArgument(fmt::format("'{}' is not in restore mode ({})",
                                                 standby.name, st->Str("mode")));
    }
    if (!st->Bool("continuous")) {
      if (st->Uint("failover_tid") == tid && restored == tid) return true;
      return Status::Aborted(fmt::format(
          "the continuous restore of '{}' stopped at TID {}, not at the failover checkpoint "
          "(TID {}): {}",
          standby.name, restored, tid, st->Str("stop_reason", "it was stopped")));
    }
    progress(fmt::format("restored TID {} of {}", restored, tid));
    return false;
  });
  if (s.code() == Status::Code::kTimedOut) {
    return Status::TimedOut(fmt::format(
        "'{}' did not replay the failover checkpoint (TID {}) within {} s: it restored up to "
        "TID {} and its continuous restore still runs (is its logreceiver connected? see "
        "'tranship status' on its host; --timeout S waits longer)",
        standby.name, tid, timeout_s, restored));
  }
  TRANSHIP_RETURN_IF_ERROR(s);
  return fmt::format("continuous restore stopped at TID {}", tid);
}

// Equal digests of two stones (the same TID, the same SHA-256 of the state).
Result<std::string> CompareDigests(const StoneRef& a, const std::string& a_digest,
                                   const StoneRef& b, uint64_t tid) {
  Result<std::string> b_digest = b.Digest();
  if (!b_digest.ok()) return b_digest.status();
  if (!a_digest.starts_with(fmt::format("tid {} ", tid))) {
    return Status::Corruption(fmt::format("the digest of '{}' is not at TID {}: {}", a.name, tid,
                                          a_digest));
  }
  if (*b_digest != a_digest) {
    return Status::Corruption(fmt::format(
        "'{}' does not hold the same state as '{}' at TID {} ({} vs {}): do not promote it; "
        "reseed it from a backup of '{}'",
        b.name, a.name, tid, *b_digest, a_digest, a.name));
  }
  return fmt::format("equal (sha256 {}...)", ShortHash(a_digest));
}

Result<std::string> ProbeWrite(const StoneRef& stone, const std::string& key,
                               const std::string& why) {
  auto c = stone.Connect();
  if (!c.ok()) return c.status();
  Result<uint64_t> tid = (*c)->Put(key, fmt::format("{} at {}", why, FormatUtc(NowMicros())));
  if (!tid.ok()) return tid.status();
  return fmt::format("'{}' committed at TID {}", key, *tid);
}

// The part of commit-restore's reply that names the new lineage.
std::string NewLineage(const std::string& reply) {
  size_t at = reply.find("new lineage");
  return at == std::string::npos ? reply : reply.substr(at);
}

std::string Resume(const StoneRef& primary) {
  return primary.Command(fmt::format("admin {} resume-commits", primary.name));
}

Status Planned(Context& ctx, const Args& args, const Options& o) {
  if (!args.Has("--primary") || !args.Has("--standby")) {
    return Status::InvalidArgument(
        "failover --planned needs --primary HOME:STONE and --standby HOME:STONE");
  }
  Result<StoneRef> primary = ParseStoneRef("--primary", args.Value("--primary"), ctx.home);
  if (!primary.ok()) return primary.status();
  Result<StoneRef> standby = ParseStoneRef("--standby", args.Value("--standby"), ctx.home);
  if (!standby.ok()) return standby.status();
  std::vector<StoneRef> others;
  for (const std::string& spec : SplitComma(args.Value("--other-standby"))) {
    Result<StoneRef> r = ParseStoneRef("--other-standby", spec, ctx.home);
    if (!r.ok()) return r.status();
    others.push_back(std::move(*r));
  }
  const StoneRef& p = *primary;
  const StoneRef& s = *standby;
  fmt::print("Planned failover from {} to {}\n", p.Label(), s.Label());
  Steps steps;
  uint64_t start = MonotonicNanos();

  bool already_suspended = false;
  Result<std::string> r = steps.Run("check " + p.name + " and " + s.name,
                                    [&](const Steps::Progress&) -> Result<std::string> {
    Result<StoneInfo> pi = p.Info();
    if (!pi.ok()) return pi.status();
    if (pi->stats.restore_mode) {
      return Status::InvalidArgument(fmt::format("'{}' is in restore mode, not a primary", p.name));
    }
    already_suspended = pi->stats.commits_suspended;
    Result<StoneInfo> si = s.Info();
    if (!si.ok()) return si.status();
    if (!si->stats.restore_mode) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is not in restore mode: it is a primary ({})", s.name, si->state));
    }
    bool continuous = si->restore_flags & kInfoRestoreContinuous;
    bool at_failover = si->restore_flags & kInfoRestoreFailover;
    if (!continuous && !(already_suspended && at_failover)) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is not in continuous restore ({}), so it would not replay the failover "
          "checkpoint. To fix this run '{}'",
          s.name, si->state,
          s.Command(fmt::format("admin {} continuous-restore ARCHIVE_DIR", s.name))));
    }
    return fmt::format("{} {} at TID {}; {} {} at TID {}", p.name, pi->state,
                       pi->durable_end.tid, s.name, si->state, si->restored.tid);
  });
  if (!r.ok()) {
    return Status::InvalidArgument(fmt::format(
        "Planned failover stopped before it changed anything: {}. '{}' still {}.",
        r.status().message(), p.name,
        already_suspended ? "has its commits suspended" : "accepts commits"));
  }

  uint64_t tid = 0;
  uint64_t suspended = MonotonicNanos();
  r = steps.Run("suspend-commits on " + p.name, [&](const Steps::Progress&) -> Result<std::string> {
    if (!already_suspended) {
      Result<std::string> text = p.Admin("suspend-commits");
      if (!text.ok()) return text.status();
    }
    // A suspended primary writes nothing more: its durable end is the failover checkpoint.
    Result<StoneInfo> pi = p.Info();
    if (!pi.ok()) return pi.status();
    tid = pi->durable_end.tid;
    return fmt::format("{}failover checkpoint at TID {}",
                       already_suspended ? "already suspended: " : "", tid);
  });
  if (!r.ok()) {
    return Status::Busy(fmt::format(
        "Planned failover stopped at suspend-commits: {}. See whether '{}' is suspended with "
        "'{}'; nothing was promoted.",
        r.status().message(), p.name, p.Command(fmt::format("admin {} restore-status", p.name))));
  }
  auto stopped_suspended = [&](const std::string& step, const Status& why,
                               const std::string& fix) {
    return Status::Busy(fmt::format(
        "Planned failover stopped at '{}': {}. '{}' stays suspended at its failover checkpoint "
        "(TID {}) and nothing was promoted. To fix this {} and run this failover again; to "
        "give '{}' its commits back instead run '{}'.",
        step, why.message(), p.name, tid, fix, p.name, Resume(p)));
  };

  std::string title = fmt::format("wait for {} to replay the failover checkpoint", s.name);
  r = steps.Run(title, [&](const Steps::Progress& progress) {
    return WaitForFailoverCheckpoint(s, tid, o.timeout_s, progress);
  });
  if (!r.ok()) return stopped_suspended(title, r.status(), "get '" + s.name + "' to that TID");

  std::string primary_digest;
  title = fmt::format("compare digests of {} and {} at TID {}", p.name, s.name, tid);
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    Result<std::string> d = p.Digest();
    if (!d.ok()) return d.status();
    primary_digest = *d;
    return CompareDigests(p, primary_digest, s, tid);
  });
  if (!r.ok()) return stopped_suspended(title, r.status(), "choose another standby");

  title = "stop the logreceiver of " + s.name;
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    Result<std::string> stopped = StopReceiversOf(s, o.receiver_port, o.timeout_s);
    if (!stopped.ok()) return stopped.status();
    return stopped->empty() ? std::string("none ran on this host") : "stopped " + *stopped;
  });
  if (!r.ok()) {
    return stopped_suspended(title, r.status(),
                             fmt::format("stop it (stoplogreceiver -P PORT -s {} on its host)",
                                         s.name));
  }

  title = "commit-restore on " + s.name;
  uint64_t accepting = 0;
  r = steps.Run(title, [&](const Steps::Progress&) -> Result<std::string> {
    Result<std::string> text = s.Admin("commit-restore");
    if (!text.ok()) return text.status();
    accepting = MonotonicNanos();
    return NewLineage(*text);
  });
  if (!r.ok()) return stopped_suspended(title, r.status(), "fix that");

  std::string until = "to commit-restore returning (no probe write; --probe-key KEY makes one)";
  if (!o.probe_key.empty()) {
    title = fmt::format("probe write on {}", s.name);
    r = steps.Run(title, [&](const Steps::Progress&) {
      return ProbeWrite(s, o.probe_key, "planned failover from " + p.name);
    });
    if (!r.ok()) {
      return Status::Busy(fmt::format(
          "The probe write on '{}' failed after commit-restore: {}. '{}' left restore mode; see "
          "'{}'.",
          s.name, r.status().message(), s.name, s.Command("status")));
    }
    accepting = MonotonicNanos();
    until = "to the first write accepted on " + s.name + " (the probe write)";
  }
  fmt::print("Failover time: {} from suspend-commits {}; {} in all.\n",
             FormatDuration(accepting - suspended), until,
             FormatDuration(MonotonicNanos() - start));
  fmt::print("'{}' is the primary. '{}' stays suspended at its failover checkpoint (TID {}).\n",
             s.name, p.name, tid);

  for (const StoneRef& other : others) {
    title = fmt::format("wait for {} to replay the failover checkpoint", other.name);
    r = steps.Run(title, [&](const Steps::Progress& progress) -> Result<std::string> {
      Result<std::string> w = WaitForFailoverCheckpoint(other, tid, o.timeout_s, progress);
      if (!w.ok()) return w.status();
      return CompareDigests(p, primary_digest, other, tid);
    });
    if (!r.ok()) {
      return Status::Busy(fmt::format(
          "The failover is done ('{}' is the primary), but '{}' is not at the failover "
          "checkpoint: {}. It can follow '{}' without reseeding once it has replayed '{}' up to "
          "TID {} (keep '{}' and its logsender up until then); else reseed it from a backup of "
          "'{}'.",
          s.name, other.name, r.status().message(), s.name, p.name, tid, p.name, s.name));
    }
  }
  fmt::print(
      "Next: start a logsender for '{}'; restart '{}' with -R and point its logreceiver and "
      "those of the other standbys at it; then continuous-restore on each (README, "
      "\"Failover\").\n",
      s.name, p.name);
  return Status::OK();
}

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

Status Emergency(Context& ctx, const Args& args, const Options& o) {
  if (!args.Has("--standby")) {
    return Status::InvalidArgument("failover --emergency needs --standby HOME:STONE");
  }
  Result<StoneRef> standby = ParseStoneRef("--standby", args.Value("--standby"), ctx.home);
  if (!standby.ok()) return standby.status();
  std::optional<StoneRef> primary;
  if (args.Has("--primary")) {
    Result<StoneRef> r = ParseStoneRef("--primary", args.Value("--primary"), ctx.home);
    if (!r.ok()) return r.status();
    primary = std::move(*r);
  }
  const StoneRef& s = *standby;
  std::string old_name = primary ? primary->name : std::string("the old primary");
  fmt::print("Emergency failover to {}\n", s.Label());
  Steps steps;
  uint64_t start = MonotonicNanos();

  bool continuous = false;
  Result<std::string> r = steps.Run("check " + s.name, [&](const Steps::Progress&) -> Result<std::string> {
    if (primary && ProbeStone(primary->home, primary->name).state == RunState::kRunning) {
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

  std::string until = "to commit-restore returning (no probe write; --probe-key KEY makes one)";
  if (!o.probe_key.empty()) {
    r = steps.Run("probe write on " + s.name, [&](const Steps::Progress&) {
      return ProbeWrite(s, o.probe_key, "emergency failover");
    });
    if (!r.ok()) {
      return Status::Busy(fmt::format(
          "The probe write on '{}' failed after commit-restore: {}. '{}' left restore mode; see "
          "'{}'.",
          s.name, r.status().message(), s.name, s.Command("status")));
    }
    accepting = MonotonicNanos();
    until = "to the first write accepted on " + s.name + " (the probe write)";
  }
  fmt::print("Failover time: {} from the start {}.\n", FormatDuration(accepting - start), until);
  fmt::print("'{}' is the primary: it holds {}'s history up to TID {} and goes on from there "
             "under a new lineage.\n",
             s.name, old_name, restored_tid);

  // What the old primary logged that the new one never saw, if its tranlogs are here.
  std::vector<std::string> dirs;
  std::string prefix;
  if (args.Has("--primary-tranlogs")) {
    dirs = {args.Value("--primary-tranlogs")};
    prefix = tranlog::GuessPrefix(Env::Default(), dirs[0]);
  } else if (primary) {
    Result<StoneConfig> c = primary->home.LoadStoneConfig(primary->name);
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
  Args info_args;
  info_args.positional = {lb.newest};
  (void)TranlogInfo(ctx, info_args);
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

}  // namespace

Status FailoverCommand(Context& ctx, const Args& args) {
  bool planned = args.Has("--planned"), emergency = args.Has("--emergency");
  if (planned == emergency) {
    return Status::InvalidArgument(
        "failover needs exactly one of --planned and --emergency. Usage: tranship help failover");
  }
  Options o;
  Result<uint64_t> timeout = args.Number("--timeout", kDefaultTimeoutS);
  if (!timeout.ok()) return timeout.status();
  if (*timeout == 0 || *timeout > 86400) {
    return Status::InvalidArgument("--timeout takes seconds from 1 to 86400");
  }
  o.timeout_s = static_cast<int>(*timeout);
  Result<uint64_t> port = args.Number("--receiver-port", 0);
  if (!port.ok()) return port.status();
  if (*port > 65535) return Status::InvalidArgument("--receiver-port takes a TCP port");
  o.receiver_port = *port;
  o.probe_key = args.Value("--probe-key");
  o.accept_gap = args.Has("--accept-gap");
  if (planned && (o.accept_gap || args.Has("--primary-tranlogs"))) {
    return Status::InvalidArgument(
        "--accept-gap and --primary-tranlogs belong to --emergency; a planned failover has "
        "no gap and loses nothing");
  }
  if (emergency && args.Has("--other-standby")) {
    return Status::InvalidArgument(
        "--other-standby belongs to --planned: after an emergency failover the other "
        "standbys are reseeded from a backup of the new primary");
  }
  return planned ? Planned(ctx, args, o) : Emergency(ctx, args, o);
}

}  // namespace tranship::cli
