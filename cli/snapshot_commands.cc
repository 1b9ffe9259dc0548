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

#include <cstdio>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "cli/daemon.h"
#include "cli/fs_util.h"
#include "cli/stone_state.h"

namespace tranship::cli {
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
  return WithStoneStopped(ctx, name, [&]() -> Status {
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
    return Status::OK();
  });
}

}  // namespace tranship::cli
