#pragma once
// Starting and stopping the stone daemon.
//
// `startstone NAME` forks and execs this binary as `tranship stone serve NAME
// --notify-fd 3` in a new session, stdin and stdout on /dev/null, stderr appended to
// log/NAME.log. The child loads the configuration, logs to log/NAME.log, opens
// (recovers) the engine, and serves the client protocol on run/NAME.sock; once logins
// are accepted it writes run/NAME.pid and sends "OK" through the notify pipe. If it fails first it sends "ERR <one line>"
// instead; if it dies, the pipe's EOF tells the parent. So the parent returns exactly
// when the stone is usable or certainly is not, without sleeping.
//
// SIGTERM or SIGINT make the server return; the daemon then closes the engine (clean
// stop: checkpoint and marker) and removes its pid file and socket. A SIGTERM during
// recovery ends the process at once; the next start recovers again.

#include <sys/types.h>

#include <string>

#include "base/status.h"
#include "cli/home.h"

namespace tranship::cli {

// Launches the daemon and waits for its readiness report. Returns its pid.
Result<pid_t> StartStoneDaemon(const Home& home, const std::string& name, bool restore_mode,
                               const std::string& self_exe);

// Sends SIGTERM to the running stone and waits (polling, up to `timeout_s`) until the
// process is gone. NotFound if the stone is not running (a stale pid file is removed).
Result<pid_t> StopStoneProcess(const Home& home, const std::string& name, int timeout_s);

inline constexpr int kStopTimeoutS = 300;  // a clean stop checkpoints the whole state

}  // namespace tranship::cli
