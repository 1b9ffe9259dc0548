#pragma once
// The logsender daemon's body: `tranship logsender serve` after its flags are checked
// (cli/logsender_command.cc). One loop (daemon/daemon.h) holds the listener, the
// LogSender (logsender.h) and the signal handles; it owns run/logsender-PORT.{pid,
// status,lock} (daemon/run_files.h) and rewrites the status file from the sender's
// status every second, for `tranship status` and the tests. SIGTERM or SIGINT stop it
// cleanly: a goodbye to each receiver, then the files are removed.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "daemon/launch.h"
#include "logsender/logsender.h"
#include "wire/tls.h"

namespace tranship::logsender {

// Everything the flags say, checked.
// Everything the flags say, checked.
struct SenderConfig {
  int port = 0;
  std::string listen;                 // -A
  std::vector<std::string> dirs;      // -T, absolute
  std::string stone;                  // -s
  std::string prefix = "tranlog";
  std::string log_path;
  LogLevel level = LogLevel::kInfo;
  uint32_t timeout_ms = 10000;
  uint64_t bandwidth = 0;             // bytes per second; 0 = unlimited
  int zstd_level = kDefaultZstdLevel;  // --zstd-level
  wire::TlsOptions tls;
  std::string base;                   // "logsender-PORT": names the run and log files
};

// Where the daemon's home puts things (home/home.h knows the layout).
struct SenderHome {
  std::string run_dir;        // run/: the lock, pid and status files
  std::string stone_socket;   // the stone's Unix socket, followed for its durable end
  std::function<Status()> ensure_layout;  // creates the home's folders
};

// Takes the lock that makes this the only logsender on its port.
Result<std::unique_ptr<FileLock>> LockSender(const std::string& run_dir, const SenderConfig& c);

// The daemon's body: one loop with the listener, the LogSender and the signal handles.
// Returns once a signal stopped everything.
Status Serve(const SenderConfig& c, const SenderHome& h, daemon::ReadinessNotifier* notifier);

}  // namespace tranship::logsender
