#pragma once
// The daemons as the tranship command starts and stops them: `GROUP serve` arguments for
// a start command's flags, the serve body's readiness reporting, and what startlogsender
// and startlogreceiver share (their common flags, the start, the serve body). The fork,
// exec and readiness pipe are daemon/launch.h; the stone's start and stop are
// home/stone_process.h.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "daemon/launch.h"
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

// The body of `GROUP serve`: requires --notify-fd (from StartDaemon) or --foreground,
// runs `serve` with the readiness notifier, and reports a failure before readiness to
// the starter (then exits 1) or, in the foreground, returns it.
Status RunDaemonServe(const Args& args, const std::string& group, const std::string& start_cmd,
                      const std::function<Status(ReadinessNotifier*)>& serve);

// What startlogsender and startlogreceiver share. Their flags, each checked where both
// commands check it: ParseShippingPort first (-P, -A, -T and -s are required; -P is a TCP
// port), ParseLogFlags after the command's own flags (-v or -q; --timeout S, 1 to 3600
// seconds, in milliseconds), ParseLogAndTls last. Usage errors (UsageError, "WHAT. Usage:
// USAGE") name the command's `usage` line.
Status UsageError(std::string_view what, std::string_view usage);
Result<int> ParseShippingPort(const Args& args, std::string_view usage);
Status ParseLogFlags(const Args& args, std::string_view usage, LogLevel* level,
                     uint32_t* timeout_ms);

// The TLS flags: -S (use TLS) -J CA -C CERT -K KEY -Q PASSPHRASE (resolved: @FILE, env:VAR
// or literal) -V (do not verify the peer). The others without -S are a usage error.
Status ParseTlsFlags(const Args& args, wire::TlsOptions* tls, std::string_view usage);

// The last flags, for a SenderConfig or a ReceiverConfig whose base is set: -l LOG
// (log/BASE.log unless given), then the TLS flags. Returns the configuration, complete.
template <class Config>
Result<Config> ParseLogAndTls(const Args& args, const Home& home, std::string_view usage,
                              Config c) {
  c.log_path = args.Value("-l", home.LogPath(c.base));
  TRANSHIP_RETURN_IF_ERROR(ParseTlsFlags(args, &c.tls, usage));
  return c;
}

// -P PORT of stoplogsender and stoplogreceiver, required: "CMD needs the port: USAGE".
Result<uint64_t> ParseStopPort(const Args& args, std::string_view usage);

// The path of run/BASE.EXT, a logsender's or a logreceiver's run file (daemon/run_files.h).
std::string RunPath(const Home& home, const std::string& base, std::string_view ext);

// What startlogsender or startlogreceiver starts, once its flags are checked.
struct ShippingStart {
  std::function<Status()> check;       // after the home's layout; may be empty
  std::string group;                   // "logsender": the daemon is `tranship GROUP serve`
  wire::TlsContext::Role role = wire::TlsContext::Role::kServer;
  std::string what;                    // "The logsender on port 5000"
  std::function<Result<std::unique_ptr<FileLock>>()> lock;  // the daemon's lock
  std::function<Status()> serve;       // --foreground: the serve body in this process
  std::function<void(pid_t)> started;  // the daemon runs: print so
};

// Checks the certificates `tls` here (their problems are reported to the operator, not
// in a log), lays out the home and runs `check`; then with --foreground runs `serve`,
// else takes and frees the daemon's lock (so that one already running refuses now),
// launches `tranship GROUP serve ...` logging to `log_path` and gives its pid to `started`.
Status StartShippingDaemon(const Context& ctx, const Args& args, const wire::TlsOptions& tls,
                           const std::string& log_path, const ShippingStart& s);

// The flags of a start or serve command, checked: a SenderConfig or a ReceiverConfig.
template <class Config>
using ParseShippingFn = Result<Config> (*)(const Home& home, const Args& args);
template <class Config>
using ShippingStartOf = std::function<ShippingStart(const Config&)>;

// startlogsender, startlogreceiver: StartShippingDaemon for the flags as `parse` checks
// them, with their log path and TLS options; `start` says the rest.
template <class Config>
Status StartShipping(const Context& ctx, const Args& args, ParseShippingFn<Config> parse,
                     const std::type_identity_t<ShippingStartOf<Config>>& start) {
  Result<Config> c = parse(ctx.home, args);
  if (!c.ok()) return c.status();
  return StartShippingDaemon(ctx, args, c->tls, c->log_path, start(*c));
}

// `logsender serve`, `logreceiver serve`: RunDaemonServe with the flags checked again by
// `parse`, the passphrase forgotten, and the daemon's body `serve` given the home's run
// directory and the stone's socket (a logsender::SenderHome or logreceiver::ReceiverHome).
template <class Config, class DaemonHome>
Status ServeShipping(const Context& ctx, const Args& args, const std::string& group,
                     ParseShippingFn<Config> parse,
                     Status (*serve)(const Config&, const DaemonHome&, ReadinessNotifier*)) {
  return RunDaemonServe(args, group, "start" + group, [&](ReadinessNotifier* notifier) {
    Result<Config> c = parse(ctx.home, args);
    ForgetDaemonPassphrase();
    if (!c.ok()) return c.status();
    const Home& home = ctx.home;
    DaemonHome h{home.RunDir(), home.SocketPath(c->stone), [&home] { return home.EnsureLayout(); }};
    return serve(*c, h, notifier);
  });
}

}  // namespace tranship::cli
