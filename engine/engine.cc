// The engine: the owner that wires its parts together, and opening, creating and
// closing a repository.
//
// Parts (each its own file pair; a record follows them in this order):
//   engine/log_writer.h    the log-writer thread and group commit: commits queue there,
//                          are written and fdatasynced in batches, applied, answered
//   engine/state_store.h   the state, its TID and the restored position, under one lock
//   engine/durable_end.h   the durable end and its subscribers (the stone server, which
//                          announces it; the logsender reads the files up to it)
//   engine/checkpointer.h  checkpoint records and the extent thread
//   engine/mode_changes.h  suspend/resume commits, restore mode, commit-restore
//   engine/digest.h        the digest of the state
//
// Lock order (a lock on the left may be held while one on its right is taken; never
// the other way round):
//   close_mu_ -> queue_mu_                      (Close stops the log writer)
//   restore_mu_ -> state lock -> end_mu_        (mode changes; a snapshot reads the
//                                                durable end under the state lock)
//   restore_mu_ -> end_mu_, subs_mu_            (publishing the end of a restore batch)
//   stats_mu_ -> state lock                     (stats() counts the keys)
//   subs_mu_ -> end_mu_                         (Subscribe hands out the current end)
// Publishing the durable end releases end_mu_ before it takes subs_mu_, and subscribers
// run under subs_mu_: they must not call back into the engine. Commit callbacks and the
// refusals at a stop run on the log-writer thread (the refusals under queue_mu_). The
// extent thread takes stats_mu_ alone.

#include "engine/engine.h"

#include <future>
#include <mutex>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/file_lock.h"
#include "base/log.h"
#include "engine/checkpointer.h"
#include "engine/durable_end.h"
#include "engine/extent.h"
#include "engine/log_writer.h"
#include "engine/mode_changes.h"
#include "engine/recovery.h"
#include "engine/state_store.h"
#include "tranlog/writer.h"

namespace tranship {
namespace {

constexpr char kCleanMarker[] = "clean-shutdown";
constexpr char kLockFile[] = "lock";

class EngineImpl final : public Engine {
 public:
  EngineImpl(const EngineOptions& o, Env* env, std::unique_ptr<FileLock> lock,
             RecoveredState rs)
      : opts_(o), env_(env), lock_(std::move(lock)),
        store_(std::move(rs.state), rs.tid, rs.restore), feed_(rs.end),
        log_(opts_, &store_, &feed_, std::move(rs.writer), rs.restoring, rs.commits_suspended),
        ckpt_(env_, opts_, &log_, &store_, rs.tid),
        modes_(env_, opts_, &log_, &ckpt_, &store_, &feed_) {
    log_.Start(LogWriter::Hooks{
        // A suspended primary stays exactly at its failover checkpoint (its standbys
        // and a new primary descend from there): nothing to record at the stop.
        [this]() -> Result<uint64_t> {
          return ckpt_.SuspendedAndIdle() ? Result<uint64_t>(uint64_t{0}) : ckpt_.Run();
        },
        [this] { ckpt_.RunIfDue(); }});
  }

  ~EngineImpl() override { (void)Close(); }

  Status Close() override {
    std::lock_guard<std::mutex> cl(close_mu_);
    if (closed_) return close_status_;
    closed_ = true;
    Result<uint64_t> r = log_.Stop();
    ckpt_.Join();
    close_status_ = r.ok() ? ckpt_.status() : r.status();
    if (close_status_.ok()) {
      close_status_ = WriteFileAtomic(env_, JoinPath(opts_.extent_dir, kCleanMarker), "clean\n");
    }
    lock_.reset();
    return close_status_;
  }

  void CommitAsync(TxnRequest txn, CommitCallback done) override {
    log_.CommitAsync(std::move(txn), std::move(done));
  }

  Result<uint64_t> Commit(TxnRequest txn) override {
    std::promise<Result<uint64_t>> p;
    auto f = p.get_future();
    CommitAsync(std::move(txn), [&p](Status s, uint64_t tid) {
      if (s.ok()) p.set_value(tid);
      else p.set_value(std::move(s));
    });
    return f.get();
  }

  ReadResult Get(std::string_view key) const override { return store_.Get(key); }
  std::vector<std::pair<std::string, std::string>> Scan(std::string_view start,
                                                        size_t limit) const override {
    return store_.Scan(start, limit);
  }

  // The log writer only starts the checkpoint; the extent is waited for here, so that
  // commits go on meanwhile.
  Result<uint64_t> Checkpoint() override {
    uint64_t seq = 0;
    Result<uint64_t> tid = log_.Control([&]() -> Result<uint64_t> {
      Result<Checkpointer::Started> started = ckpt_.Start();
      if (!started.ok()) return started.status();
      seq = started->seq;
      return started->tid;
    });
    if (!tid.ok()) return tid;
    TRANSHIP_RETURN_IF_ERROR(ckpt_.Wait(seq));
    return tid;
  }
  Result<uint64_t> StartNewLog() override {
    return log_.Control([this] { return log_.NewLog(); });
  }
  Result<uint64_t> SuspendCommits() override {
    return log_.Control([this] { return modes_.Suspend(); });
  }
  Result<uint64_t> ResumeCommits() override {
    return log_.Control([this] { return modes_.Resume(); });
  }

  bool in_restore_mode() const override { return log_.restoring(); }
  RestoreProgress restore_progress() const override { return store_.restore_progress(); }

  Status ApplyRestored(
      const std::function<void(StateEdit* state, RestoreProgress* progress)>& fn) override {
    return modes_.ApplyRestored(fn);
  }

  Status EnterRestoreMode(StateMap state, const RestoredPosition& pos) override {
    Result<uint64_t> r = log_.Control([&] { return modes_.EnterRestore(&state, pos); });
    return r.ok() ? Status::OK() : r.status();
  }

  Result<DurableEnd> CommitRestore(uint64_t file_id) override {
    Result<uint64_t> r = log_.Control([&] { return modes_.CommitRestore(file_id); });
    if (!r.ok()) return r.status();
    return durable_end();
  }

  uint64_t newest_tranlog_id() const override {
    auto set = tranlog::ListTranlogs(env_, opts_.tranlog_dirs, opts_.tranlog_prefix);
    return set.ok() ? set->newest() : 0;
  }

  const EngineOptions& options() const override { return opts_; }

  DurableEnd durable_end() const override { return feed_.end(); }
  uint64_t Subscribe(DurableCallback fn) override { return feed_.Subscribe(std::move(fn)); }
  void Unsubscribe(uint64_t id) override { feed_.Unsubscribe(id); }

  Result<StateSnapshot> SnapshotState() override {
    Result<StateSnapshot> out = Status::Aborted("the stone is shutting down");
    Result<uint64_t> r = log_.Control([&]() -> Result<uint64_t> {
      out = log_.SnapshotNow();
      return uint64_t{0};
    });
    if (!r.ok()) return r.status();  // refused at the stop
    return out;
  }

  Digest ComputeDigest() const override { return tranship::ComputeDigest(store_); }

  std::vector<TranlogFileInfo> TranlogFiles() const override {
    std::vector<TranlogFileInfo> out;
    auto set = tranlog::ListTranlogs(env_, opts_.tranlog_dirs, opts_.tranlog_prefix);
    if (!set.ok()) return out;
    for (const auto& [id, path] : set->files) {
      auto size = env_->GetFileSize(path);
      out.push_back(TranlogFileInfo{id, path, size.ok() ? *size : 0});
    }
    return out;
  }

  EngineStats stats() const override {
    EngineStats s = log_.stats();
    s.last_checkpoint_tid = ckpt_.last_checkpoint_tid();
    s.last_checkpoint_us = ckpt_.last_checkpoint_us();
    s.restore_mode = log_.restoring();
    s.commits_suspended = log_.suspended();
    return s;
  }

 private:
  // Declared in the order they are built; the log writer's thread stops (Close) before
  // any of them is destroyed.
  const EngineOptions opts_;
  Env* const env_;
  std::unique_ptr<FileLock> lock_;
  StateStore store_;
  DurableEndFeed feed_;
  LogWriter log_;
  Checkpointer ckpt_;
  ModeChanges modes_;

  std::mutex close_mu_;
  bool closed_ = false;      // GUARDED_BY(close_mu_)
  Status close_status_;      // GUARDED_BY(close_mu_)
};

Status LockRepository(Env* env, const EngineOptions& o, std::unique_ptr<FileLock>* lock) {
  TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(o.extent_dir));
  auto l = AcquireLock(env, JoinPath(o.extent_dir, kLockFile));
  if (!l.ok()) {
    if (l.status().code() == Status::Code::kBusy) {
      return Status::Busy(fmt::format("the repository in {} is in use: {}. Stop the other "
                                      "process first (stopstone)",
                                      o.extent_dir, l.status().message()));
    }
    return l.status();
  }
  *lock = std::move(*l);
  return Status::OK();
}

}  // namespace

Status Engine::Create(const EngineOptions& options) {
  Env* env = options.env ? options.env : Env::Default();
  if (options.tranlog_dirs.empty()) return Status::InvalidArgument("no tranlog directory given");
  std::unique_ptr<FileLock> lock;
  TRANSHIP_RETURN_IF_ERROR(LockRepository(env, options, &lock));
  if (env->FileExists(JoinPath(options.extent_dir, kExtentFileName))) {
    return Status::AlreadyExists(options.extent_dir + " already holds a repository");
  }
  for (const std::string& d : options.tranlog_dirs) TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(d));
  auto set = tranlog::ListTranlogs(env, options.tranlog_dirs, options.tranlog_prefix);
  if (!set.ok()) return set.status();
  if (!set->files.empty()) {
    return Status::AlreadyExists(fmt::format("tranlogs already exist in the tranlog directory ({})",
                                             set->files.begin()->second));
  }
  tranlog::WriterOptions wo{env, options.tranlog_dirs, options.tranlog_prefix,
                            options.tranlog_size_bytes};
  Lineage lineage = Lineage::Random();
  auto w = tranlog::Writer::CreateFile(wo, lineage, 1, 1, 0);
  if (!w.ok()) return w.status();
  tranlog::LineageStartPayload ls;
  ls.lineage = lineage;
  std::string payload = tranlog::EncodeLineageStart(ls);
  uint64_t now = NowMicros();
  (*w)->Add(tranlog::RecordType::kLineageStart, 0, now, AsBytes(payload));
  TRANSHIP_RETURN_IF_ERROR((*w)->Flush());
  ExtentHeader h;
  h.lineage = lineage;
  h.tid = (*w)->last_tid();
  h.replay_from = (*w)->end();
  h.chain = (*w)->chain();
  h.last_commit_us = now;
  TRANSHIP_RETURN_IF_ERROR(WriteExtent(env, options.extent_dir, h, StateMap()));
  return WriteFileAtomic(env, JoinPath(options.extent_dir, kCleanMarker), "clean\n");
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  Env* env = options.env ? options.env : Env::Default();
  if (options.tranlog_dirs.empty()) return Status::InvalidArgument("no tranlog directory given");
  std::unique_ptr<FileLock> lock;
  TRANSHIP_RETURN_IF_ERROR(LockRepository(env, options, &lock));
  std::string marker = JoinPath(options.extent_dir, kCleanMarker);
  bool clean = env->FileExists(marker);
  uint64_t t0 = MonotonicNanos();
  auto rs = Recover(options, env);
  if (!rs.ok()) return rs.status();
  TS_LOG_INFO("recovery after {} stop: {}, replayed {} records to TID {}{} in {:.1f} ms; "
              "lineage {}, durable end {}",
              clean ? "a clean" : "an unclean",
              rs->had_extent ? fmt::format("extent at TID {}", rs->extent_tid)
                             : std::string("no extent, from tranlog 1"),
              rs->records_replayed, rs->tid,
              rs->torn_bytes_cut ? fmt::format(", cut a torn tail of {} bytes", rs->torn_bytes_cut)
                                 : std::string(),
              (MonotonicNanos() - t0) / 1e6, rs->lineage.ToHex(), rs->end.pos.ToString());
  // From here on a crash is an unclean stop.
  if (clean) {
    TRANSHIP_RETURN_IF_ERROR(env->RemoveFile(marker));
    TRANSHIP_RETURN_IF_ERROR(env->SyncDir(options.extent_dir));
  }
  bool entered_restore_mode = rs->entered_restore_mode;
  auto engine = std::make_unique<EngineImpl>(options, env, std::move(lock), std::move(*rs));
  if (entered_restore_mode) {
    // Make restore mode durable before the stone serves anyone: a standby seeded with a
    // copy of its primary and started with -R must come back in restore mode after a
    // crash, never as a second primary.
    auto cp = engine->Checkpoint();
    if (!cp.ok()) {
      return Status::IOError(fmt::format("cannot record restore mode in the extent: {}",
                                         cp.status().message()));
    }
  }
  if (engine->in_restore_mode()) {
    TS_LOG_INFO("restore mode at {}", engine->restore_progress().at.ToString());
  }
  return std::unique_ptr<Engine>(std::move(engine));
}

Status Engine::CreateRestoring(const EngineOptions& options, const StateMap& state,
                               const RestoredPosition& pos, bool replace) {
  Env* env = options.env ? options.env : Env::Default();
  std::unique_ptr<FileLock> lock;
  TRANSHIP_RETURN_IF_ERROR(LockRepository(env, options, &lock));
  if (!replace && env->FileExists(JoinPath(options.extent_dir, kExtentFileName))) {
    return Status::AlreadyExists(options.extent_dir + " already holds a repository");
  }
  for (const std::string& d : options.tranlog_dirs) TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(d));
  ExtentHeader h;
  h.lineage = pos.lineage;
  h.tid = pos.tid;
  h.replay_from = pos.pos;
  h.chain = pos.chain;
  h.last_commit_us = pos.commit_time_us;
  h.flags = kExtentFlagRestoring;
  TRANSHIP_RETURN_IF_ERROR(WriteExtent(env, options.extent_dir, h, state));
  return WriteFileAtomic(env, JoinPath(options.extent_dir, kCleanMarker), "clean\n");
}


}  // namespace tranship
