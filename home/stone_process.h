#pragma once
// A stone's daemon as a home starts and stops it: `tranship stone serve NAME [-R]`
// launched through daemon/launch.h with its log in log/NAME.log, and SIGTERM to the
// process its pid file names. The daemon's body is stone/daemon.h.

#include <sys/types.h>

#include <string>

#include "base/status.h"
#include "home/home.h"

namespace tranship::home {

// The stone's daemon: StartDaemon with `tranship stone serve NAME [-R]`.
Result<pid_t> StartStoneDaemon(const Home& home, const std::string& name, bool restore_mode,
                               const std::string& self_exe);

// Sends SIGTERM to the running stone and waits (polling, up to `timeout_s`) until the
// process is gone. NotFound if the stone is not running (a stale pid file is removed).
Result<pid_t> StopStoneProcess(const Home& home, const std::string& name, int timeout_s);

inline constexpr int kStopTimeoutS = 300;  // a clean stop checkpoints the whole state

}  // namespace tranship::home
