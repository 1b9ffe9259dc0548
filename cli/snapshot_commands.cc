// tranship stone snapshot|restore-snapshot NAME.
//
// A snapshot is a plain copy of the repository while the stone is stopped, kept in
// data/NAME/snapshot/:
//   extent/        copy of data/NAME/extent
//   tranlog.0/ …   copy of the i-th directory of STN_TRAN_LOG_DIRECTORIES
//   SNAPSHOT       when it was taken and from which directories
// It is built in snapshot.new/ and renamed into place, so a crash while copying leaves
// the previous snapshot intact. A running stone is stopped cleanly first and started
// again afterwards; its clients see a short outage.
//
// restore-snapshot takes a primary back in time. Its standbys may hold records from
// after the snapshot, so the history cannot simply go on under the same lineage: the
// restored stone begins a new lineage at the snapshot's TID (as commit-restore does
// after a backup restore), in a tranlog numbered above every file it had used. Standbys
// at or before that TID follow it on; those past it are refused with a fork in time that
// names both lineages. A snapshot of a standby in restore mode is put back as it was.

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/daemon.h"
#include "cli/fs_util.h"
#include "base/json_parse.h"
#include "daemon/run_files.h"
#include "home/stone_process.h"
#include "home/stone_state.h"
#include "engine/engine.h"
#include "engine/extent.h"
#include "restore/control.h"
#include "stone/stone.h"
#include "tranlog/reader.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::ReadPidFiles;
namespace {

struct Part {
  std::string live;      // directory of the repository
  std::string in_snap;   // its name inside the snapshot
};

Result<std::vector<Part>> Parts(const Home& home, const std::string& name) {
  Result<StoneConfig> config = home.LoadStoneConfig(name);
  if (!config.ok()) return config.status();
  std::vector<Part> parts = {{home.ExtentDir(name), "extent"}};
  std::vector<std::string> dirs = home.TranlogDirs(name, *config);
  for (size_t i = 0; i < dirs.size(); i++) parts.push_back({dirs[i], fmt::format("tranlog.{}", i)});
  return parts;
}

// Stops the stone if it runs; *was_running tells the caller to start it again, in
// restore mode if *restore_mode.
Status StopForCopy(Context& ctx, const std::string& name, bool* was_running,
                   bool* restore_mode) {
  *was_running = false;
  StoneState st = ProbeStone(ctx.home, name);
  *restore_mode = st.state == RunState::kRunning && st.process.mode == "restore";
  Result<pid_t> pid = StopStoneProcess(ctx.home, name, kStopTimeoutS);
  if (pid.ok()) {
    *was_running = true;
    fmt::print("Stopped the stone '{}' (pid {}).\n", name, *pid);
    return Status::OK();
  }
  return pid.status().IsNotFound() ? Status::OK() : pid.status();
}

// Runs `copy`, then restarts the stone if it was running, whatever `copy` returned.
template <typename Fn>
Status WithStoneStopped(Context& ctx, const std::string& name, Fn copy) {
  bool was_running = false;
  bool restore_mode = false;
  TRANSHIP_RETURN_IF_ERROR(StopForCopy(ctx, name, &was_running, &restore_mode));
  Status copied = copy();
  if (!was_running) return copied;
  Result<pid_t> pid = StartStoneDaemon(ctx.home, name, restore_mode, ctx.self_exe);
  if (!copied.ok()) return copied;
  if (!pid.ok()) return pid.status();
  fmt::print("Started the stone '{}' again (pid {}).\n", name, *pid);
  return Status::OK();
}

}  // namespace

Status StoneSnapshot(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  const Home& home = ctx.home;
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(name));
  Result<std::vector<Part>> parts = Parts(home, name);
  if (!parts.ok()) return parts.status();
  const std::string snap = home.SnapshotDir(name);
  const std::string tmp = snap + ".new";
  return WithStoneStopped(ctx, name, [&]() -> Status {
    TRANSHIP_RETURN_IF_ERROR(RemoveTree(tmp));
    TRANSHIP_RETURN_IF_ERROR(Env::Default()->CreateDirs(tmp));
    std::string manifest = fmt::format("taken {}\n", FormatLocalTime(NowMicros()));
    for (const Part& p : *parts) {
      TRANSHIP_RETURN_IF_ERROR(CopyTree(p.live, JoinPath(tmp, p.in_snap)));
      manifest += fmt::format("{} {}\n", p.in_snap, p.live);
    }
    TRANSHIP_RETURN_IF_ERROR(WriteFileAtomic(Env::Default(), JoinPath(tmp, "SNAPSHOT"), manifest));
    TRANSHIP_RETURN_IF_ERROR(RemoveTree(snap));
    TRANSHIP_RETURN_IF_ERROR(Env::Default()->RenameFile(tmp, snap));
    TRANSHIP_RETURN_IF_ERROR(Env::Default()->SyncDir(home.DataDir(name)));
    fmt::print("Took a snapshot of the stone '{}' in {}.\n", name, snap);
    return Status::OK();
  });
}

namespace {

// The newest tranlog id in `dirs` (0 if none).
uint64_t NewestId(const std::vector<std::string>& dirs, const std::string& prefix) {
  Result<tranlog::TranlogSet> set = tranlog::ListTranlogs(Env::Default(), dirs, prefix);
  return set.ok() ? set->newest() : 0;
}

// A standby streaming from a logsender of this home for the stone, as its status file
// tells (run/logsender-PORT.status).
struct Follower {
  std::string stone;
  bool acked = false;
  uint64_t acked_tid = 0;
  Position sent;  // where the next frame to it starts
};

// The followers of `name`'s logsenders, from status files written at `since_us` or
// later (each is rewritten every second; up to 3 s are waited for, then the last one
// read is taken).
std::vector<Follower> FollowersOf(const Home& home, const std::string& name, uint64_t since_us) {
  std::vector<Follower> out;
  for (const ProcessDescription& d : ReadPidFiles(home.RunDir())) {
    if (d.type != "logsender" || d.name != name || !ProcessAlive(d.pid)) continue;
    const std::string path = JoinPath(home.RunDir(), fmt::format("logsender-{}.status", d.port));
    Result<JsonValue> j = Status::NotFound(path);
    const uint64_t deadline = MonotonicNanos() + 3'000'000'000ull;
    do {
      Result<std::string> text = ReadFileToString(Env::Default(), path);
      if (text.ok()) j = ParseJson(*text);
      if (j.ok() && j->Uint("updated_us") >= since_us) break;
      usleep(50 * 1000);
    } while (MonotonicNanos() < deadline);
    if (!j.ok()) continue;
    const JsonValue* receivers = j->Get("receivers");
    if (receivers == nullptr) continue;
    for (const JsonValue& r : receivers->items) {
      Follower f;
      f.stone = r.Str("stone");
      const JsonValue* acked = r.Get("acked");
      f.acked = acked != nullptr && !acked->IsNull();
      if (f.acked) f.acked_tid = acked->Uint("tid");
      if (const JsonValue* sent = r.Get("sent")) {
        f.sent = Position{sent->Uint("file"), sent->Uint("offset")};
      }
      out.push_back(f);
    }
  }
  return out;
}

// Opens the restored repository in restore mode at its own durable end and commits the
// restore: a new lineage whose first tranlog is numbered at least `min_file_id`. The
// stone's log records what the engine does.
Status BeginLineage(const Home& home, const std::string& name, uint64_t min_file_id,
                    const std::string& taken, const std::vector<Follower>& followers) {
  Result<StoneConfig> config = home.LoadStoneConfig(name);
  if (!config.ok()) return config.status();
  TRANSHIP_RETURN_IF_ERROR(LogInit(home.LogPath(name), LogLevel::kInfo));
  TS_LOG_INFO("restore-snapshot: the stone '{}' goes back to the snapshot taken {}", name, taken);
  EngineOptions o = home.EngineOptionsFor(name, *config);
  o.stone_name = name;
  o.restore_mode = true;
  Result<std::unique_ptr<Stone>> stone = Stone::Open(o);
  Status done = stone.status();
  RestoredPosition at;
  DurableEnd end;
  if (stone.ok()) {
    at = (*stone)->engine()->restore_progress().at;
    Result<std::string> r = AddStoneHint(
        (*stone)->restore()->CommitRestore(false, 0, min_file_id), o.stone_name);
    done = r.status();
    end = (*stone)->engine()->durable_end();
    Status closed = (*stone)->Close();
    if (done.ok()) done = closed;
  }
  (void)LogInit("", LogLevel::kInfo);
  if (!done.ok()) {
    return Status::IOError(fmt::format(
        "The snapshot is back in place, but the stone '{}' could not begin a new lineage "
        "after it: {}. See {}.",
        name, done.message(), home.LogPath(name)));
  }
  fmt::print("The stone '{}' went back to TID {} (the snapshot taken {}) and begins a new "
             "lineage {} there, in {} (parent lineage {}); its history after TID {} is "
             "abandoned.\n",
             name, at.tid, taken, end.lineage.ToHex(),
             tranlog::FileName(o.tranlog_prefix, end.pos.file_id), at.lineage.ToHex(), at.tid);
  fmt::print("Standbys: those that had received records after TID {} are refused with a fork "
             "in time and must be reseeded from a new backup of '{}' ('tranship admin {} "
             "full-backup FILE', then 'tranship stone create STANDBY --from-backup FILE'); "
             "those at or before it follow the new lineage.\n",
             at.tid, name, name);
  for (const Follower& f : followers) {
    if (f.acked && f.acked_tid > at.tid) {
      fmt::print("  standby '{}' had TID {}: reseed it\n", f.stone, f.acked_tid);
    } else if (!(at.pos < f.sent)) {
      fmt::print("  standby '{}' had {}: it follows on\n", f.stone,
                 f.acked ? fmt::format("TID {}", f.acked_tid) : std::string("nothing yet"));
    } else {
      fmt::print("  standby '{}' had {} but was sent records after TID {}: if its logreceiver "
                 "is refused with a fork in time, reseed it\n",
                 f.stone,
                 f.acked ? fmt::format("TID {}", f.acked_tid) : std::string("nothing yet"),
                 at.tid);
    }
  }
  return Status::OK();
}

}  // namespace

Status StoneRestoreSnapshot(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  const Home& home = ctx.home;
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(name));
  const std::string snap = home.SnapshotDir(name);
  Env* env = Env::Default();
  if (!env->FileExists(JoinPath(snap, "SNAPSHOT"))) {
    return Status::NotFound(fmt::format(
        "The stone '{}' has no snapshot. To fix this run 'tranship stone snapshot {}' first.",
        name, name));
  }
  Result<std::vector<Part>> parts = Parts(home, name);
  if (!parts.ok()) return parts.status();
  for (const Part& p : *parts) {
    if (!env->FileExists(JoinPath(snap, p.in_snap))) {
      return Status::InvalidArgument(fmt::format(
          "The snapshot in {} has no {}: STN_TRAN_LOG_DIRECTORIES changed since it was taken. "
          "To fix this restore the old setting in {}.", snap, p.in_snap, home.ConfPath(name)));
    }
  }
  Result<StoneConfig> config = home.LoadStoneConfig(name);
  if (!config.ok()) return config.status();
  // Every tranlog id the stone has used, in its files now and in the snapshot: the new
  // lineage's files are numbered above them, so that no two files ever share a name.
  std::vector<std::string> snap_dirs;
  for (size_t i = 1; i < parts->size(); i++) snap_dirs.push_back(JoinPath(snap, (*parts)[i].in_snap));
  const uint64_t used = std::max(NewestId(home.TranlogDirs(name, *config), config->tranlog_prefix),
                                 NewestId(snap_dirs, config->tranlog_prefix));
  std::string taken = "at an unknown time";
  if (Result<std::string> m = ReadFileToString(env, JoinPath(snap, "SNAPSHOT"));
      m.ok() && m->starts_with("taken ")) {
    taken = m->substr(6, m->find('\n') - 6);
  }
  return WithStoneStopped(ctx, name, [&]() -> Status {
    // What the standbys hold once the stone has stopped: nothing is shipped after that.
    const std::vector<Follower> followers = FollowersOf(home, name, NowMicros());
    // Copy everything first, then swap: a failed copy leaves the repository as it was.
    for (const Part& p : *parts) {
      TRANSHIP_RETURN_IF_ERROR(RemoveTree(p.live + ".restore"));
      TRANSHIP_RETURN_IF_ERROR(CopyTree(JoinPath(snap, p.in_snap), p.live + ".restore"));
    }
    for (const Part& p : *parts) {
      TRANSHIP_RETURN_IF_ERROR(RemoveTree(p.live));
      TRANSHIP_RETURN_IF_ERROR(env->RenameFile(p.live + ".restore", p.live));
      TRANSHIP_RETURN_IF_ERROR(env->SyncDir(DirName(p.live)));
    }
    fmt::print("Restored the stone '{}' from the snapshot in {}.\n", name, snap);
    ExtentHeader h;
    TRANSHIP_RETURN_IF_ERROR(
        ReadExtentHeader(env, JoinPath(home.ExtentDir(name), kExtentFileName), &h));
    if (h.flags & kExtentFlagRestoring) {
      fmt::print("It is in restore mode at TID {}, as when the snapshot was taken, and restores "
                 "onwards from there.\n",
                 h.tid);
      return Status::OK();
    }
    return BeginLineage(home, name, used + 1, taken, followers);
  });
}

}  // namespace tranship::cli
