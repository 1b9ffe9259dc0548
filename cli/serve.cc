// `tranship stone serve NAME [-R] [--foreground] [--notify-fd FD]`: checks the stone,
// opens its log and runs the stone daemon's body, stone/daemon.h (see
// home/stone_process.h for how startstone launches it). With --foreground and no notify
// fd it reports readiness on stdout and failures on stderr, for systemd and tests.

#include "base/log.h"
#include "cli/commands.h"
#include "cli/daemon.h"
#include "stone/daemon.h"

namespace tranship::cli {

namespace {

Status Serve(const Home& home, const std::string& name, bool restore_mode,
             ReadinessNotifier* notifier) {
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(name));
  Result<StoneConfig> config = home.LoadStoneConfig(name);
  if (!config.ok()) return config.status();
  TRANSHIP_RETURN_IF_ERROR(home.EnsureLayout());
  TRANSHIP_RETURN_IF_ERROR(home.CheckSocketPath(name));
  const std::string log_path = home.LogPath(name);
  TRANSHIP_RETURN_IF_ERROR(LogInit(log_path, LogLevel::kInfo));

  StoneDaemonOptions o;
  o.name = name;
  o.engine = home.EngineOptionsFor(name, *config);
  o.engine.restore_mode = restore_mode;
  o.engine.stone_name = name;
  o.socket_path = home.SocketPath(name);
  o.pid_path = home.PidPath(name);
  o.log_path = log_path;
  return ServeStone(o, notifier);
}

}  // namespace

Status StoneServe(Context& ctx, const Args& args) {
  // SIGPIPE is ignored there: a vanished starter or client must not kill the stone.
  return RunDaemonServe(args, "stone", "startstone NAME", [&](ReadinessNotifier* notifier) {
    return Serve(ctx.home, args.positional[0], args.Has("-R"), notifier);
  });
}

}  // namespace tranship::cli
