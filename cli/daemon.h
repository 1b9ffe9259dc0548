#pragma once
// The daemons as the tranship command starts and stops them: `GROUP serve` arguments for
// a start command's flags, the serve body's readiness reporting. The fork, exec and
// readiness pipe are daemon/launch.h; the stone's start and stop are home/stone_process.h.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include <functional>
#include <utility>

#include "base/status.h"
#include "daemon/launch.h"
#include "cli/args.h"
#include "wire/tls.h"

namespace tranship::cli {

using daemon::DaemonLaunch;
using daemon::ForgetDaemonPassphrase;
using daemon::kDaemonPassphraseEnv;
using daemon::ReadinessNotifier;
using daemon::StartDaemon;
using daemon::StopDaemonProcess;

// The arguments of `GROUP serve` for the flags of `GROUP start` (startlogsender,
// startlogreceiver): --foreground dropped, and a literal -Q PASSPHRASE replaced by
// `-Q env:TRANSHIP_DAEMON_KEY_PASSPHRASE` with the value moved into launch->env.
// -Q @FILE and -Q env:VAR pass through unchanged.
std::vector<std::string> DaemonServeArgs(const std::string& group, const Args& args,
                                         DaemonLaunch* launch);

// The TLS flags of startlogsender and startlogreceiver: -S (use TLS) -J CA -C CERT -K KEY
// -Q PASSPHRASE (resolved: @FILE, env:VAR or literal) -V (do not verify the peer). The
// others without -S are refused through `usage`, which adds the command's usage line.
Status ParseTlsFlags(const Args& args, wire::TlsOptions* tls,
                     const std::function<Status(std::string_view)>& usage);

// The body of `GROUP serve`: requires --notify-fd (from StartDaemon) or --foreground,
// runs `serve` with the readiness notifier, and reports a failure before readiness to
// the starter (then exits 1) or, in the foreground, returns it.
Status RunDaemonServe(const Args& args, const std::string& group, const std::string& start_cmd,
                      const std::function<Status(ReadinessNotifier*)>& serve);

}  // namespace tranship::cli
