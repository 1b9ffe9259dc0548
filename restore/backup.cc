#include "restore/backup.h"

#include <fmt/format.h>

#include "base/background.h"
#include "base/clock.h"
#include "base/log.h"

namespace tranship {

Status BackupTracker::Begin(std::string what) {
  std::lock_guard<std::mutex> l(mu_);
  if (running_) {
    return Status::Busy(fmt::format("'{}' is running; one backup or restore at a time. To fix "
                                    "this wait for it ('tranship admin NAME backup-status').",
                                    what_));
  }
  running_ = true;
  what_ = std::move(what);
  progress_ = BackupProgress{};
  started_ns_ = MonotonicNanos();
  return Status::OK();
}

void BackupTracker::Update(const BackupProgress& p) {
  std::lock_guard<std::mutex> l(mu_);
  progress_ = p;
}

void BackupTracker::End(std::string result) {
  std::lock_guard<std::mutex> l(mu_);
  running_ = false;
  last_ = std::move(result);
}

bool BackupTracker::running() const {
  std::lock_guard<std::mutex> l(mu_);
  return running_;
}

std::string BackupTracker::StatusLine() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!running_) {
    return last_.empty() ? "no backup is running; none since the stone started"
                         : "no backup is running; the last one: " + last_;
  }
  const BackupProgress& p = progress_;
  std::string line = what_ + ":";
  if (p.keys_total == 0 && p.bytes_done == 0) {
    line += " starting";
  } else {
    // Keys measure both directions; bytes only when the total is known (reading).
    unsigned pct = p.keys_total ? static_cast<unsigned>(p.keys_done * 100 / p.keys_total) : 100;
    line += fmt::format(" {} of {} keys ({}%), {:.1f} MB", p.keys_done, p.keys_total, pct,
                        p.bytes_done / 1e6);
    if (p.bytes_total) line += fmt::format(" of {:.1f} MB", p.bytes_total / 1e6);
  }
  line += fmt::format(", {} s", (MonotonicNanos() - started_ns_) / 1000000000);
  return line;
}

Result<BackupDone> FullBackup(RestoreTarget* target, const std::string& stone_name,
                              const std::string& path, const BackupProgressFn& progress,
                              Env* env) {
  if (!env) env = Env::Default();
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument(fmt::format(
        "the backup file '{}' is not an absolute path. To fix this give the full path.", path));
  }
  // Checked before the state is copied, so a typo costs nothing.
  if (env->FileExists(path)) {
    return Status::AlreadyExists(fmt::format(
        "{} already exists. To fix this choose another file name or remove the old file.", path));
  }
  uint64_t t0 = MonotonicNanos();
  Result<StateSnapshot> snap = target->SnapshotState();
  if (!snap.ok()) return snap.status();
  BackupHeader h;
  h.lineage = snap->at.lineage;
  h.tid = snap->at.tid;
  h.position = snap->at.pos;
  h.chain = snap->at.chain;
  h.last_commit_us = snap->at.commit_time_us;
  h.flags = snap->commits_suspended ? kBackupFlagCommitsSuspended : 0;
  h.stone_name = stone_name;
  TS_LOG_INFO("full-backup to {}: writing the state at TID {} ({} keys) while commits go on",
              path, h.tid, snap->state->keys());
  BackupDone done;
  BackupProgressFn count = [&](const BackupProgress& p) {
    done.bytes = p.bytes_done;
    if (progress) progress(p);
  };
  // At background priority, paced: commits go on meanwhile (base/background.h).
  Status s;
  RunInBackground(
      [&] { s = WriteBackupFile(env, path, h, *snap->state, count, snap->write_bytes_per_s); });
  if (!s.ok()) {
    TS_LOG_ERROR("{}", s.message());
    return s;
  }
  h.keys = snap->state->keys();
  done.header = h;
  done.seconds = (MonotonicNanos() - t0) / 1e9;
  TS_LOG_INFO("{}", DescribeBackup(done, path));
  return done;
}

std::string DescribeBackup(const BackupDone& done, const std::string& path) {
  const BackupHeader& h = done.header;
  return fmt::format("full-backup of '{}' at TID {} (lineage {}, {}): {} keys, {:.1f} MB in "
                     "{:.1f} s to {}",
                     h.stone_name, h.tid, h.lineage.ToHex(), h.position.ToString(), h.keys,
                     done.bytes / 1e6, done.seconds, path);
}

}  // namespace tranship
