// The stone daemon's body (see daemon.h): open, serve, close, and the pid file between.
#include "stone/daemon.h"

#include <unistd.h>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "daemon/run_files.h"
#include "engine/engine.h"
#include "stone/server.h"
#include "stone/stone.h"

namespace tranship {

Status ServeStone(const StoneDaemonOptions& o, daemon::ReadinessNotifier* notifier) {
  const std::string& name = o.name;
  const std::string& log_path = o.log_path;
  auto cannot_start = [&](const Status& s) {
    TS_LOG_ERROR("stone '{}' cannot start: {}", name, s.ToString());
    return Status::IOError(fmt::format("Cannot start the stone '{}': {}. See {}.", name,
                                       s.message(), log_path));
  };

  TS_LOG_INFO("stone '{}' starting: pid {}, tranship {}{}", name, getpid(), TRANSHIP_VERSION,
              o.engine.restore_mode ? ", restore mode (-R)" : "");
  uint64_t open_start = MonotonicNanos();
  Result<std::unique_ptr<Stone>> stone = Stone::Open(o.engine);
  if (!stone.ok()) return cannot_start(stone.status());
  Engine* engine = (*stone)->engine();
  DurableEnd end = engine->durable_end();
  TS_LOG_INFO("recovery done in {} ms: lineage {}, last TID {}, end at {}, {} keys",
              (MonotonicNanos() - open_start) / 1000000, end.lineage.ToHex(), end.tid,
              end.pos.ToString(), engine->stats().keys);

  const std::string& socket = o.socket_path;
  const std::string& pidfile = o.pid_path;
  bool listening = false;
  StoneServerOptions server_options;
  server_options.name = name;
  server_options.socket_path = socket;
  server_options.extent_dir = o.engine.extent_dir;
  StoneServer server(stone->get(), server_options);
  Status run = server.Run([&] {
    daemon::ProcessDescription d = daemon::ThisProcess("stone", name, socket);
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

}  // namespace tranship
