// tranship failover --planned: the planned failover of docs/standby.md, run step by step
// against stones this host reaches through their TRANSHIP_HOMEs: check, suspend-commits
// on the primary, wait until the standby's continuous restore stopped at the failover
// checkpoint, compare digests at that TID, stop the standby's logreceiver,
// commit-restore, [probe write]; then the other standbys reach the same checkpoint.
// The emergency procedure is failover/emergency.cc.
//
// The command stops at the first step that fails with one line saying where things
// stand and what to do next. Every step can be run again: a rerun of a planned failover
// that stopped with the primary suspended continues from there.

#include <fmt/format.h>

#include <future>

#include "base/clock.h"
#include "failover/failover.h"
#include "failover/steps.h"

namespace tranship::failover {
namespace {

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
                                   const StoneRef& b, const Result<std::string>& b_digest,
                                   uint64_t tid) {
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

std::string Resume(const StoneRef& primary) {
  return primary.Command(fmt::format("admin {} resume-commits", primary.name));
}

}  // namespace

Status PlannedFailover(const FailoverOptions& o) {
  if (!o.primary || !o.standby) {
    return Status::InvalidArgument("a planned failover needs a primary and a standby");
  }
  const StoneRef& p = *o.primary;
  const StoneRef& s = *o.standby;
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
    // Both stones compute their digests at the same time.
    std::future<Result<std::string>> standby = std::async(std::launch::async, [&] { return s.Digest(); });
    Result<std::string> d = p.Digest();
    Result<std::string> sd = standby.get();
    if (!d.ok()) return d.status();
    primary_digest = *d;
    return CompareDigests(p, primary_digest, s, sd, tid);
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

  Result<std::string> until =
      ProbeStep(steps, s, o.probe_key, "planned failover from " + p.name, &accepting);
  if (!until.ok()) return until.status();
  fmt::print("Failover time: {} from suspend-commits {}; {} in all.\n",
             FormatDuration(accepting - suspended), *until,
             FormatDuration(MonotonicNanos() - start));
  fmt::print("'{}' is the primary. '{}' stays suspended at its failover checkpoint (TID {}).\n",
             s.name, p.name, tid);

  for (const StoneRef& other : o.other_standbys) {
    title = fmt::format("wait for {} to replay the failover checkpoint", other.name);
    r = steps.Run(title, [&](const Steps::Progress& progress) -> Result<std::string> {
      Result<std::string> w = WaitForFailoverCheckpoint(other, tid, o.timeout_s, progress);
      if (!w.ok()) return w.status();
      return CompareDigests(p, primary_digest, other, other.Digest(), tid);
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

}  // namespace tranship::failover
