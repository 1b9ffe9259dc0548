#pragma once
// The stone daemon's body: `tranship stone serve NAME` after the command has checked the
// stone and opened its log (cli/serve.cc). Opens the repository (stone/stone.h:
// recovery, then continuous restore resumed), serves it (stone/server.h) and, once the
// socket listens, writes run/NAME.pid (daemon/run_files.h) and reports readiness
// (daemon/launch.h). SIGTERM or SIGINT make the server return; the stone then closes
// (clean stop: checkpoint and marker) and removes its pid file and socket.

#include <string>

#include "base/status.h"
#include "daemon/launch.h"
#include "engine/engine.h"

namespace tranship {

struct StoneDaemonOptions {
  std::string name;         // the stone's name, in log lines and messages
  EngineOptions engine;     // restore_mode and stone_name set
  std::string socket_path;  // run/NAME.sock
  std::string pid_path;     // run/NAME.pid
  std::string log_path;     // named in "See LOG." of a failed start
};

// Runs the stone until a signal stops it. Returns the server's or the close's failure.
Status ServeStone(const StoneDaemonOptions& o, daemon::ReadinessNotifier* notifier);

}  // namespace tranship
