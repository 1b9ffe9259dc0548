// `tranship stone serve NAME [-R] [--foreground] [--notify-fd FD]`: the stone daemon's
// body (see daemon.h for how startstone launches it). With --foreground and no notify
// fd it reports readiness on stdout and failures on stderr, for systemd and tests.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/daemon.h"
#include "daemon/run_files.h"
#include "engine/engine.h"
#include "stone/server.h"
#include "stone/stone.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::WritePidFile;
using daemon::ReadPidFile;
using daemon::CurrentUser;
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
  auto cannot_start = [&](const Status& s) {
    TS_LOG_ERROR("stone '{}' cannot start: {}", name, s.ToString());
    return Status::IOError(fmt::format("Cannot start the stone '{}': {}. See {}.", name,
                                       s.message(), log_path));
  };

  TS_LOG_INFO("stone '{}' starting: pid {}, tranship {}{}", name, getpid(), TRANSHIP_VERSION,
              restore_mode ? ", restore mode (-R)" : "");
  EngineOptions options = home.EngineOptionsFor(name, *config);
  options.restore_mode = restore_mode;
  options.stone_name = name;
  uint64_t open_start = MonotonicNanos();
  Result<std::unique_ptr<Stone>> stone = Stone::Open(options);
  if (!stone.ok()) return cannot_start(stone.status());
  Engine* engine = (*stone)->engine();
  DurableEnd end = engine->durable_end();
  TS_LOG_INFO("recovery done in {} ms: lineage {}, last TID {}, end at {}, {} keys",
              (MonotonicNanos() - open_start) / 1000000, end.lineage.ToHex(), end.tid,
              end.pos.ToString(), engine->stats().keys);

  const std::string socket = home.SocketPath(name);
  const std::string pidfile = home.PidPath(name);
  bool listening = false;
  StoneServerOptions server_options;
  server_options.name = name;
  server_options.socket_path = socket;
  server_options.extent_dir = options.extent_dir;
  StoneServer server(stone->get(), server_options);
  Status run = server.Run([&] {
    ProcessDescription d = daemon::ThisProcess("stone", name, socket);
    // Restore mode comes from -R or from the extent (restore mode lasts until
    // commit-restore): a restart of this stone must keep it.
    if (engine->in_restore_mode()) d.mode = "restore";
    daemon::WritePidFileOrWarn(pidfile, d);
    listening = true;
    notifier->Ready("The stone is accepting logins on " + socket);
  });
  if (!listening) {
    Status closed = (*stone)->Close();
    (void)closed;
    return cannot_start(run);
  }
  if (run.ok()) {
    TS_LOG_INFO("stone '{}' stopping: stop requested (SIGTERM or SIGINT)", name);
  } else {
    TS_LOG_ERROR("stone '{}' stopping: server failed: {}", name, run.ToString());
  }
  Status closed = (*stone)->Close();
  // Remove the pid file only if it is still ours.
  daemon::RemoveRunFiles(pidfile, {socket});
  if (!closed.ok()) {
    TS_LOG_ERROR("stone '{}' stopped uncleanly: {}", name, closed.ToString());
    return closed;
  }
  TS_LOG_INFO("stone '{}' stopped cleanly", name);
  return run;
}

}  // namespace

Status StoneServe(Context& ctx, const Args& args) {
  signal(SIGPIPE, SIG_IGN);  // a vanished starter or client must not kill the stone
  Result<uint64_t> fd = args.Number("--notify-fd", UINT64_MAX);
  if (!fd.ok()) return fd.status();
  if (*fd == UINT64_MAX && !args.Has("--foreground")) {
    return Status::InvalidArgument(
        "'tranship stone serve' runs a stone in this process; use --foreground, or start a "
        "daemon with 'startstone NAME'.");
  }
  ReadinessNotifier notifier(*fd == UINT64_MAX ? -1 : static_cast<int>(*fd));
  Status s = Serve(ctx.home, args.positional[0], args.Has("-R"), &notifier);
  if (!s.ok() && *fd != UINT64_MAX) {
    // A daemon's stderr is its log, which already has the error; the starter prints it.
    notifier.Failed(s.message());
    std::exit(1);
  }
  return s;
}

}  // namespace tranship::cli
