#pragma once
// The logreceiver daemon's body: `tranship logreceiver serve` after its flags are checked
// (cli/logreceiver_command.cc). One loop (daemon/daemon.h) holds the LogReceiver
// (receiver.h), the standby link to the local stone (standby_link.h), a status tick and
// the signal handles; it owns run/logreceiver-PORT-STONE.{pid,status,lock}
// (daemon/run_files.h), and each record made durable in the archive is announced to the
// standby stone through the link. SIGTERM or SIGINT stop it cleanly: the last Ack, then
// the files are removed.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "daemon/launch.h"
#include "wire/tls.h"

namespace tranship::logreceiver {

// Everything the flags say, checked.
// Everything the flags say, checked.
struct ReceiverConfig {
  int port = 0;
  std::string master;       // -A: the logsender's host
  std::string archive_dir;  // -T, absolute
  std::string stone;        // -s
  std::string prefix = "tranlog";
  std::string log_path;
  LogLevel level = LogLevel::kInfo;
  uint32_t timeout_ms = 10000;
  wire::TlsOptions tls;
  std::string base;         // "logreceiver-PORT-STONE": names the run and log files
  bool from_start = false;  // --from-start
};

// Where the daemon's home puts things (home/home.h knows the layout).
struct ReceiverHome {
  std::string run_dir;        // run/: the lock, pid and status files
  std::string stone_socket;   // the standby stone's Unix socket
  std::function<Status()> ensure_layout;  // creates the home's folders
};

// The archive directory must exist (it is created) and take files.
Status CheckArchiveDir(const std::string& dir);

// Takes the lock that makes this the only receiver for its port and stone.
Result<std::unique_ptr<FileLock>> LockReceiver(const std::string& run_dir,
                                               const ReceiverConfig& c);

// The daemon's body: one loop with the receiver, the standby link, a status timer and
// the signal handles. Returns once a signal stopped everything.
Status Serve(const ReceiverConfig& c, const ReceiverHome& h, daemon::ReadinessNotifier* notifier);

}  // namespace tranship::logreceiver
