#include "engine/restore_mode.h"
#include "restore/control.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"

namespace tranship {
namespace {

Status NotInRestoreMode(const std::string& name) {
  return Status::Busy(fmt::format("The stone '{}' is not in restore mode", name))
      .WithReason(kReasonNotInRestoreMode);
}

std::string EncodeSource(const ArchiveSource& s) {
  std::string out = "prefix " + s.prefix + "\n";
  for (const std::string& d : s.dirs) out += "dir " + d + "\n";
  return out;
}

bool DecodeSource(const std::string& text, ArchiveSource* s) {
  s->dirs.clear();
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    if (line.starts_with("prefix ")) s->prefix = line.substr(7);
    else if (line.starts_with("dir ")) s->dirs.push_back(line.substr(4));
  }
  return !s->dirs.empty() && !s->prefix.empty();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string Plural(uint64_t n, const char* what) {
  return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s");
}

}  // namespace

Status ForgetRestoreMarkers(Env* env, const std::string& extent_dir) {
  for (const char* m : {kContinuousRestoreMarker, kRestoreSourceMarker, kRestoreGapMarker}) {
    std::string p = JoinPath(extent_dir, m);
    if (env->FileExists(p)) TRANSHIP_RETURN_IF_ERROR(env->RemoveFile(p));
  }
  return env->SyncDir(extent_dir);
}

RestoreControl::RestoreControl(RestoreTarget* target, Env* env) : target_(target), env_(env) {
  auto gap = ReadFileToString(env_, Path(kRestoreGapMarker));
  if (gap.ok()) gap_ = *gap;
  auto src = ReadFileToString(env_, Path(kRestoreSourceMarker));
  if (src.ok()) (void)DecodeSource(*src, &source_);
}

RestoreControl::~RestoreControl() { Shutdown(); }

std::string RestoreControl::Path(const char* marker) const {
  return JoinPath(target_->repository().extent_dir, marker);
}

Status RestoreControl::RecordSource(const ArchiveSource& source) {
  Status s = WriteFileAtomic(env_, Path(kRestoreSourceMarker), EncodeSource(source));
  if (s.ok()) return s;
  // commit-restore numbers the new lineage's files above every archived one from this
  // record; without it a restart would forget the archive.
  return Status::IOError(fmt::format(
      "cannot record the archive being restored from in {} ({}), which commit-restore needs "
      "to number its files above the archive's",
      Path(kRestoreSourceMarker), s.message()));
}

std::string RestoreControl::StoneName() const { return target_->repository().stone_name; }

void RestoreControl::SetGap(const std::string& missing) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (gap_ == missing) return;
    gap_ = missing;
  }
  Status s = missing.empty() ? env_->RemoveFile(Path(kRestoreGapMarker))
                             : WriteFileAtomic(env_, Path(kRestoreGapMarker), missing);
  if (!s.ok() && !s.IsNotFound()) TS_LOG_WARN("cannot record the restore gap: {}", s.ToString());
}

Result<ArchiveSource> RestoreControl::SourceFor(const std::vector<std::string>& dirs,
                                                const std::optional<std::string>& prefix,
                                                std::string* note) {
  if (dirs.empty()) {
    return Status::InvalidArgument("Name at least one archive directory");
  }
  for (const std::string& d : dirs) {
    auto children = env_->GetChildren(d);
    if (!children.ok()) {
      return Status::NotFound(fmt::format(
          "The archive directory {} cannot be read ({}). To fix this name the directory the "
          "logreceiver or the copy script writes to",
          d, children.status().message()));
    }
  }
  ArchiveSource src;
  src.dirs = dirs;
  if (prefix) {
    src.prefix = *prefix;
    *note = fmt::format("prefix '{}'", src.prefix);
    return src;
  }
  // An archive written by a logreceiver carries the primary's names, which need not be
  // this stone's prefix: use the one found in the directory.
  for (const std::string& d : dirs) {
    std::string guess = tranlog::GuessPrefix(env_, d);
    auto set = tranlog::ListTranlogs(env_, {d}, guess);
    if (set.ok() && !set->files.empty()) {
      src.prefix = guess;
      *note = fmt::format("prefix '{}', found in {}", guess, d);
      return src;
    }
  }
  src.prefix = target_->repository().tranlog_prefix;
  *note = fmt::format("prefix '{}' (the stone's own; no tranlog in the directory yet)",
                      src.prefix);
  return src;
}

Result<std::string> RestoreControl::FromArchive(const std::vector<std::string>& dirs,
                                                const std::optional<std::string>& prefix,
                                                uint64_t to_end_of_log) {
  std::string note;
  auto src = SourceFor(dirs, prefix, &note);
  if (!src.ok()) return src.status();
  return Replay(std::move(*src), to_end_of_log, note);
}

Result<std::string> RestoreControl::FromCurrentLogs() {
  ArchiveSource src;
  src.dirs = target_->repository().tranlog_dirs;
  src.prefix = target_->repository().tranlog_prefix;
  return Replay(std::move(src), 0, fmt::format("the stone's own tranlogs, prefix '{}'", src.prefix));
}

Result<std::string> RestoreControl::Replay(ArchiveSource source, uint64_t to_end_of_log,
                                           const std::string& prefix_note) {
  std::lock_guard<std::mutex> op(op_mu_);
  const std::string name = StoneName();
  if (!target_->in_restore_mode()) return NotInRestoreMode(name);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (continuous_) {
      return Status::Busy(fmt::format("The stone '{}' is in continuous restore", name))
          .WithReason(kReasonInContinuousRestore);
    }
  }
  if (Status s = RecordSource(source); !s.ok()) {
    return Status::IOError(s.message() + "; nothing was restored");
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    source_ = source;
  }
  ArchiveReplayer r(target_, env_, source, to_end_of_log);
  uint64_t t0 = MonotonicNanos();
  uint64_t last_log = t0;
  ArchiveReplayer::Step step;
  while ((step = r.Next(ContinuousRestore::kBatchRecords)) == ArchiveReplayer::Step::kProgress) {
    if (MonotonicNanos() - last_log > 5'000'000'000ull) {
      last_log = MonotonicNanos();
      TS_LOG_INFO("restore: {} records applied, reading {}", r.applied(), r.current_file());
    }
  }
  double secs = (MonotonicNanos() - t0) / 1e9;
  RestoredPosition at = target_->restore_progress().at;
  ReplayStop stop = step == ArchiveReplayer::Step::kCaughtUp ? ReplayStop::kEndOfFiles : r.stop();
  std::string why = stop == ReplayStop::kEndOfFiles
                        ? fmt::format("end of the available files (the next record would be in "
                                      "{})", tranlog::FileName(source.prefix, at.pos.file_id))
                        : r.why();
  std::string applied = fmt::format(
      "Applied {} from {} in {} ({}){} in {:.2f} s; the stone is at TID {} (lineage {}, {} "
      "of the archive, commit time {})",
      Plural(r.applied(), "record"), Plural(r.files_opened(), "file"), Join(source.dirs),
      prefix_note,
      r.skipped() ? fmt::format(", skipping {} already restored", r.skipped()) : std::string(),
      secs, at.tid, at.lineage.ToHex(), at.pos.ToString(),
      at.commit_time_us ? FormatUtc(at.commit_time_us) : std::string("none"));
  TS_LOG_INFO("restore from {}: {}; stopped at {}: {}", Join(source.dirs), applied,
              ReplayStopName(stop), why);
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_reason_ = why;
    last_run_ = applied;
  }
  if (stop == ReplayStop::kGap) {
    SetGap(r.missing());
    return Status::NotFound(fmt::format("Restore stopped at a {}. {}", why, applied))
        .WithReason(kReasonRestoreStoppedAtGap);
  }
  if (r.applied() > 0) SetGap("");
  if (stop == ReplayStop::kFork) {
    return Status::Corruption(fmt::format(
        "Restore stopped at a {}. {}. No record of the other history was applied; to fix "
        "this restore from the archive of this stone's primary, or reseed the stone from a "
        "backup of the primary",
        why, applied));
  }
  if (stop == ReplayStop::kDamage || stop == ReplayStop::kError) {
    return Status::Corruption(fmt::format("Restore stopped: {}. {}", why, applied))
        .WithReason(kReasonRestoreStoppedAtDamage);
  }
  return fmt::format("{}. Stopped at the {}.", applied, why);
}

Status RestoreControl::StartContinuousLocked(const ArchiveSource& source,
                                             uint64_t pending_failover_tid, bool resuming) {
  Status s = RecordSource(source);
  if (s.ok()) {
    s = WriteFileAtomic(env_, Path(kContinuousRestoreMarker), EncodeSource(source));
    if (!s.ok()) {
      s = Status::IOError(fmt::format(
          "cannot record continuous restore in {} ({}), so it would not resume after a "
          "restart",
          Path(kContinuousRestoreMarker), s.message()));
    }
  }
  if (!s.ok()) {
    // After a restart both markers are on disk already (the continuous one was just
    // read): a disk too full to rewrite them must not keep the standby from following.
    if (!resuming) return Status::IOError(s.message() + "; nothing was restored");
    TS_LOG_WARN("{}", s.message());
  }
  auto c = std::make_unique<ContinuousRestore>(
      target_, env_, source, [this](const ContinuousState& end) { OnContinuousEnd(end); },
      pending_failover_tid);
  std::lock_guard<std::mutex> l(mu_);
  source_ = source;
  stop_reason_.clear();
  continuous_ = std::move(c);
  continuous_->Start();
  return Status::OK();
}

void RestoreControl::OnContinuousEnd(const ContinuousState& end) {
  // Runs on the continuous restore thread as it ends by itself or after a requested
  // finish: it is no longer wanted after a restart.
  (void)env_->RemoveFile(Path(kContinuousRestoreMarker));
  if (end.stop == ReplayStop::kGap) SetGap(end.missing);
  else if (end.applied > 0) SetGap("");
  std::lock_guard<std::mutex> l(mu_);
  stop_reason_ = end.why;
}

Result<std::string> RestoreControl::StartContinuous(const std::vector<std::string>& dirs,
                                                    const std::optional<std::string>& prefix) {
  std::lock_guard<std::mutex> op(op_mu_);
  const std::string name = StoneName();
  if (!target_->in_restore_mode()) return NotInRestoreMode(name);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shut_down_) return Status::Aborted("the stone is shutting down");
    if (continuous_ && continuous_->state().running) {
      return Status::Busy(fmt::format("The stone '{}' is already in continuous restore from {}",
                                      name, Join(continuous_->source().dirs)))
          .WithReason(kReasonAlreadyInContinuousRestore);
    }
  }
  std::unique_ptr<ContinuousRestore> old;
  {
    std::lock_guard<std::mutex> l(mu_);
    old = std::move(continuous_);
  }
  old.reset();  // joins a thread that already ended
  std::string note;
  auto src = SourceFor(dirs, prefix, &note);
  if (!src.ok()) return src.status();
  // Started by an operator at a failover checkpoint the history already ends at: follow
  // what comes after it (the new primary's lineage) instead of stopping there again.
  uint64_t pending_failover = target_->restore_progress().failover_tid;
  TRANSHIP_RETURN_IF_ERROR(StartContinuousLocked(*src, pending_failover));
  if (pending_failover != 0) {
    note += fmt::format("; the restored history ends at the failover checkpoint at TID {}: "
                        "continuous restore follows what comes after it",
                        pending_failover);
  }
  RestoredPosition at = target_->restore_progress().at;
  TS_LOG_INFO("continuous restore from {} ({}) at {}", Join(src->dirs), note, at.ToString());
  return fmt::format(
      "Continuous restore of the stone '{}' started from {} ({}) at TID {} ({} of the "
      "archive). To follow it run 'tranship admin {} restore-status'.",
      name, Join(src->dirs), note, at.tid, at.pos.ToString(), name);
}

Result<std::string> RestoreControl::StopContinuous() {
  std::lock_guard<std::mutex> op(op_mu_);
  const std::string name = StoneName();
  ContinuousRestore* c;
  {
    std::lock_guard<std::mutex> l(mu_);
    c = continuous_.get();
  }
  if (c == nullptr || !c->state().running) {
    (void)env_->RemoveFile(Path(kContinuousRestoreMarker));
    std::string why;
    {
      std::lock_guard<std::mutex> l(mu_);
      why = stop_reason_;
    }
    return Status::InvalidArgument(fmt::format(
        "The stone '{}' is not in continuous restore{}", name,
        why.empty() ? std::string() : fmt::format(" (it ended: {})", why)));
  }
  uint64_t before = c->state().applied;
  c->RequestStop(/*finish=*/true);
  c->Join();  // the thread's last act locks mu_: not held here
  ContinuousState end = c->state();
  RestoredPosition at = target_->restore_progress().at;
  return fmt::format(
      "Continuous restore of the stone '{}' stopped after {} ({} while stopping): {}. The "
      "stone stays in restore mode at TID {} ({} of the archive).",
      name, Plural(end.applied, "applied record"), end.applied - before, end.why, at.tid,
      at.pos.ToString());
}

Result<std::string> RestoreControl::CommitRestore(bool accept_gap, uint32_t logreceivers,
                                                  uint64_t min_file_id) {
  std::lock_guard<std::mutex> op(op_mu_);
  const std::string name = StoneName();
  if (!target_->in_restore_mode()) {
    return Status::InvalidArgument(fmt::format(
        "The stone '{}' is not in restore mode; commit-restore has nothing to do", name));
  }
  ArchiveSource source;
  std::string gap;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (continuous_ && continuous_->state().running) {
      return Status::Busy(fmt::format("The stone '{}' is in continuous restore", name))
          .WithReason(kReasonInContinuousRestore);
    }
    source = source_;
    gap = gap_;
  }
  if (logreceivers > 0) {
    return Status::Busy(fmt::format(
                            "{} logged in to the stone '{}': it could still deliver records "
                            "of the old primary",
                            logreceivers == 1 ? std::string("A logreceiver is")
                                              : fmt::format("{} logreceivers are", logreceivers),
                            name))
        .WithReason(kReasonLogreceiverLoggedIn);
  }
  if (!gap.empty() && !accept_gap) {
    return Status::NotFound(fmt::format(
                                "The last restore of the stone '{}' stopped at a gap: {} is "
                                "missing, so this stone lacks records its primary committed",
                                name, gap))
        .WithReason(kReasonUnacceptedGap);
  }
  // The new lineage's own file ids continue above every id of the archive and of the
  // stone's own tranlogs, so that no standby ever sees two files with one name.
  RestoredPosition at = target_->restore_progress().at;
  uint64_t id = at.pos.offset <= tranlog::kFileHeaderSize ? at.pos.file_id : at.pos.file_id + 1;
  id = std::max({id, target_->newest_tranlog_id() + 1, min_file_id});
  if (!source.dirs.empty()) {
    auto set = tranlog::ListTranlogs(env_, source.dirs, source.prefix);
    if (set.ok()) id = std::max(id, set->newest() + 1);
  }
  Result<DurableEnd> end = target_->CommitRestore(id);
  if (!end.ok()) return end.status();
  (void)ForgetRestoreMarkers(env_, target_->repository().extent_dir);
  {
    std::lock_guard<std::mutex> l(mu_);
    gap_.clear();
    stop_reason_.clear();
  }
  return fmt::format(
      "The stone '{}' left restore mode at TID {}{} and accepts commits: new lineage {} "
      "(parent {}), tranlog {}.",
      name, at.tid, gap.empty() ? std::string() : fmt::format(" (accepting the gap: {})", gap),
      end->lineage.ToHex(), at.lineage.ToHex(),
      tranlog::FileName(target_->repository().tranlog_prefix, id));
}

void RestoreControl::NotifyArchive(const DurableEnd& archive_end) {
  std::lock_guard<std::mutex> l(mu_);
  notified_end_ = archive_end;
  have_notified_end_ = true;
  if (continuous_) continuous_->Wake();
}

void RestoreControl::ResumeAfterOpen() {
  auto text = ReadFileToString(env_, Path(kContinuousRestoreMarker));
  if (!text.ok()) return;
  ArchiveSource src;
  if (!DecodeSource(*text, &src)) {
    TS_LOG_WARN("ignoring a malformed {}", Path(kContinuousRestoreMarker));
    return;
  }
  std::lock_guard<std::mutex> op(op_mu_);
  Status s = StartContinuousLocked(src, 0, /*resuming=*/true);
  if (s.ok()) {
    TS_LOG_INFO("resuming continuous restore from {} (prefix '{}') at {}", Join(src.dirs),
                src.prefix, target_->restore_progress().at.ToString());
  } else {
    TS_LOG_ERROR("cannot resume continuous restore: {}", s.ToString());
  }
}

void RestoreControl::Shutdown() {
  std::lock_guard<std::mutex> op(op_mu_);
  std::unique_ptr<ContinuousRestore> c;
  {
    std::lock_guard<std::mutex> l(mu_);
    shut_down_ = true;
    c = std::move(continuous_);
  }
  if (c) {
    c->RequestStop(/*finish=*/false);
    c->Join();
  }
}

RestoreControl::Flags RestoreControl::CurrentFlags() const {
  std::lock_guard<std::mutex> l(mu_);
  return Flags{continuous_ && continuous_->state().running, !gap_.empty()};
}

RestoreStatus RestoreControl::GetStatus() {
  RestoreStatus s;
  s.restore_mode = target_->in_restore_mode();
  s.progress = target_->restore_progress();
  s.applied = s.progress.applied;
  ContinuousState cs;
  DurableEnd notified;
  bool have_notified;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (continuous_) cs = continuous_->state();
    s.source = source_;
    s.stop_reason = stop_reason_;
    s.gap = gap_;
    s.last_run = last_run_;
    notified = notified_end_;
    have_notified = have_notified_end_;
  }
  s.continuous = cs.running;
  s.mode = !s.restore_mode                   ? (target_->commits_suspended()
                                                    ? "commits suspended"
                                                    : "primary")
           : s.continuous                    ? "continuous restore"
                                             : "restore mode";
  if (!s.restore_mode) return s;
  const RestoredPosition& at = s.progress.at;
  // The newest complete archived record: what a logreceiver reported, or what
  // continuous restore saw when it last caught up, or the newest archive file's end.
  DurableEnd newest;
  if (have_notified && notified.tid >= at.tid) {
    newest = notified;
    s.lag_known = true;
  } else if (cs.running && cs.caught_up) {
    newest = at.AsEnd();
    s.lag_known = true;
  } else if (!s.source.dirs.empty()) {
    auto set = tranlog::ListTranlogs(env_, s.source.dirs, s.source.prefix);
    if (set.ok() && !set->files.empty()) {
      auto sum = tranlog::SummarizeFile(env_, set->files.rbegin()->second);
      if (sum.ok() && sum->records > 0) {
        newest = DurableEnd{sum->header.lineage, Position{sum->header.file_id, sum->end_offset},
                            sum->last_tid, sum->last_chain, sum->last_time_us};
        s.lag_known = true;
      } else if (sum.ok() && sum->header.first_tid > 0) {
        // A file just started: the newest record is the one before its first.
        newest = DurableEnd{sum->header.lineage, Position{sum->header.file_id, sum->end_offset},
                            sum->header.first_tid - 1, sum->header.start_chain, 0};
        s.lag_known = true;
      }
    }
  }
  if (s.lag_known) {
    s.archive_end = newest;
    if (newest.tid > at.tid) {
      s.lag_us = newest.commit_time_us > at.commit_time_us
                     ? newest.commit_time_us - at.commit_time_us
                     : 0;
      if (newest.pos.file_id == at.pos.file_id) {
        s.lag_bytes = newest.pos.offset > at.pos.offset ? newest.pos.offset - at.pos.offset : 0;
      } else if (newest.pos.file_id > at.pos.file_id) {
        uint64_t bytes = newest.pos.offset;
        for (uint64_t id = at.pos.file_id; id < newest.pos.file_id; id++) {
          for (const std::string& d : s.source.dirs) {
            auto size = env_->GetFileSize(JoinPath(d, tranlog::FileName(s.source.prefix, id)));
            if (!size.ok()) continue;
            bytes += id == at.pos.file_id ? (*size > at.pos.offset ? *size - at.pos.offset : 0)
                                          : *size;
            break;
          }
        }
        s.lag_bytes = bytes;
      }
    }
  }
  return s;
}

}  // namespace tranship
