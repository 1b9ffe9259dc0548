// tranship stone create|list|start|stop|restart|destroy.

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "base/env.h"
#include "base/file_lock.h"
#include "base/process.h"
#include "cli/backup_commands.h"
#include "cli/commands.h"
#include "home/config.h"
#include "cli/daemon.h"
#include "cli/fs_util.h"
#include "home/stone_process.h"
#include "home/stone_state.h"
#include "engine/engine.h"

namespace tranship::cli {

Status StoneCreate(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(name));
  const Home& home = ctx.home;
  TRANSHIP_RETURN_IF_ERROR(home.EnsureLayout());
  TRANSHIP_RETURN_IF_ERROR(home.CheckSocketPath(name));
  if (home.StoneExists(name)) {
    return Status::AlreadyExists(fmt::format(
        "The stone '{}' already exists. To fix this choose another name or run "
        "'tranship stone destroy {}' first.", name, name));
  }
  Env* env = Env::Default();
  if (env->FileExists(home.DataDir(name))) {
    return Status::AlreadyExists(fmt::format(
        "{} already exists but has no configuration. To fix this move it away or choose "
        "another name.", home.DataDir(name)));
  }
  StoneConfig config;
  config.tranlog_dirs = {home.DefaultTranlogDir(name)};
  EngineOptions options = home.EngineOptionsFor(name, config);
  for (const std::string& dir : {options.extent_dir, options.tranlog_dirs[0]}) {
    TRANSHIP_RETURN_IF_ERROR(env->CreateDirs(dir));
  }
  // From a backup: an extent in restore mode at the backup's position, no tranlogs.
  Status created;
  std::string seeded;
  if (args.Has("--from-backup")) {
    Result<std::string> r = SeedFromBackup(options, args.Value("--from-backup"));
    created = r.status();
    if (r.ok()) seeded = *r;
  } else {
    created = Engine::Create(options);
  }
  if (!created.ok()) {
    (void)RemoveTree(home.DataDir(name));
    if (args.Has("--from-backup")) return created;  // one line naming the file already
    return Status::IOError(
        fmt::format("Cannot create the stone '{}': {}", name, created.message()));
  }
  // The configuration is written last: a stone exists once its .conf does.
  TRANSHIP_RETURN_IF_ERROR(WriteFileAtomic(env, home.ConfPath(name), FormatConfig(config)));
  if (args.Has("--from-backup")) {
    fmt::print("Created the stone '{}' ({}) {}. Start it with 'startstone {}'; it comes up in "
               "restore mode.\n", name, home.ConfPath(name), seeded, name);
    return Status::OK();
  }
  fmt::print("Created the stone '{}' ({}). Start it with 'startstone {}'.\n", name,
             home.ConfPath(name), name);
  return Status::OK();
}

Status StoneList(Context& ctx, const Args&) {
  for (const std::string& name : ctx.home.ListStones()) {
    fmt::print("{:<24} {}\n", name, ToString(ProbeStone(ctx.home, name).state));
  }
  return Status::OK();
}

Status StartStone(Context& ctx, const std::string& name, bool restore_mode) {
  TRANSHIP_RETURN_IF_ERROR(ctx.home.RequireStone(name));
  StoneState st = ProbeStone(ctx.home, name);
  if (st.state == RunState::kRunning) {
    return Status::Busy(fmt::format(
        "The stone '{}' is already running (pid {}). To restart it run 'tranship stone "
        "restart {}'.", name, st.process.pid, name));
  }
  if (st.state == RunState::kStalePid && InspectProcess(st.process.pid) == ProcessState::kDying) {
    // Killed a moment ago (a watchdog restarting a crashed stone): until its last thread
    // has exited it still holds the repository.
    fmt::print(stderr,
               "The stone '{}' was killed and its process (pid {}) is still exiting; waiting "
               "up to {} s for it to let go of the repository.\n",
               name, st.process.pid, kDyingHolderWaitMs / 1000);
    if (!WaitUntilGone(st.process.pid, kDyingHolderWaitMs)) {
      return Status::Busy(fmt::format(
          "The stone '{}' was killed but its process (pid {}) has not finished exiting after "
          "{} s, and still holds the repository. See /proc/{}/task/*/stat.",
          name, st.process.pid, kDyingHolderWaitMs / 1000, st.process.pid));
    }
  }
  TRANSHIP_RETURN_IF_ERROR(ctx.home.EnsureLayout());
  Result<pid_t> pid = StartStoneDaemon(ctx.home, name, restore_mode, ctx.self_exe);
  if (!pid.ok()) return pid.status();
  fmt::print("Started the stone '{}'{} (pid {}), accepting logins on {}.\n", name,
             restore_mode ? " in restore mode" : "", *pid, ctx.home.SocketPath(name));
  return Status::OK();
}

Status StoneStart(Context& ctx, const Args& args) {
  return StartStone(ctx, args.positional[0], args.Has("-R"));
}

Status StoneStop(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  TRANSHIP_RETURN_IF_ERROR(ctx.home.RequireStone(name));
  Result<pid_t> pid = StopStoneProcess(ctx.home, name, kStopTimeoutS);
  if (!pid.ok()) return pid.status();
  fmt::print("Stopped the stone '{}' (pid {}).\n", name, *pid);
  return Status::OK();
}

Status StoneRestart(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  TRANSHIP_RETURN_IF_ERROR(ctx.home.RequireStone(name));
  Result<pid_t> pid = StopStoneProcess(ctx.home, name, kStopTimeoutS);
  if (pid.ok()) {
    fmt::print("Stopped the stone '{}' (pid {}).\n", name, *pid);
  } else if (!pid.status().IsNotFound()) {
    return pid.status();
  }
  return StartStone(ctx, name, args.Has("-R"));
}

Status StoneDestroy(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  const Home& home = ctx.home;
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(name));
  StoneState st = ProbeStone(home, name);
  if (st.state == RunState::kRunning) {
    return Status::Busy(fmt::format(
        "The stone '{}' is running (pid {}). To fix this run 'stopstone {}' first.", name,
        st.process.pid, name));
  }
  Env* env = Env::Default();
  // Tranlog directories outside data/NAME may be shared with other files: only this
  // stone's tranlogs are removed there.
  Result<StoneConfig> config = home.LoadStoneConfig(name);
  if (config.ok()) {
    std::string data_prefix = home.DataDir(name) + "/";
    for (const std::string& dir : home.TranlogDirs(name, *config)) {
      if (dir.starts_with(data_prefix)) continue;
      TRANSHIP_RETURN_IF_ERROR(RemoveTranlogFiles(dir, config->tranlog_prefix));
    }
  }
  TRANSHIP_RETURN_IF_ERROR(RemoveTree(home.DataDir(name)));
  (void)env->RemoveFile(home.PidPath(name));
  (void)env->RemoveFile(home.SocketPath(name));
  TRANSHIP_RETURN_IF_ERROR(env->RemoveFile(home.ConfPath(name)));
  fmt::print("Destroyed the stone '{}'.\n", name);
  return Status::OK();
}

}  // namespace tranship::cli
