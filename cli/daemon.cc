#include "cli/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "daemon/run_files.h"

namespace tranship::cli {

std::vector<std::string> DaemonServeArgs(const std::string& group, const Args& args,
                                         DaemonLaunch* launch) {
  std::vector<std::string> out = {group, "serve"};
  for (const auto& [k, v] : args.values) {
    if (k == "-Q" && v.rfind("@", 0) != 0 && v.rfind("env:", 0) != 0) {
      launch->env.emplace_back(kDaemonPassphraseEnv, v);
      out.insert(out.end(), {k, std::string("env:") + kDaemonPassphraseEnv});
      continue;
    }
    out.insert(out.end(), {k, v});
  }
  for (const std::string& f : args.flags) {
    if (f != "--foreground") out.push_back(f);
  }
  return out;
}

Status UsageError(std::string_view what, std::string_view usage) {
  return Status::InvalidArgument(fmt::format("{}. Usage: {}", what, usage));
}

Result<int> ParseShippingPort(const Args& args, std::string_view usage) {
  for (std::string_view f : {"-P", "-A", "-T", "-s"}) {
    if (!args.Has(f)) return UsageError(fmt::format("{} is required", f), usage);
  }
  Result<uint64_t> port = args.Number("-P", 0);
  if (!port.ok()) return UsageError(port.status().message(), usage);
  if (*port == 0 || *port > 65535) {
    return UsageError(fmt::format("-P {} is not a TCP port", *port), usage);
  }
  return static_cast<int>(*port);
}

Status ParseLogFlags(const Args& args, std::string_view usage, LogLevel* level,
                     uint32_t* timeout_ms) {
  if (args.Has("-v") && args.Has("-q")) return UsageError("-v and -q exclude each other", usage);
  if (args.Has("-v")) *level = LogLevel::kDebug;
  if (args.Has("-q")) *level = LogLevel::kWarn;
  Result<uint64_t> timeout = args.Number("--timeout", 10);
  if (!timeout.ok()) return UsageError(timeout.status().message(), usage);
  if (*timeout == 0 || *timeout > 3600) {
    return UsageError("--timeout must be 1 to 3600 seconds", usage);
  }
  *timeout_ms = static_cast<uint32_t>(*timeout * 1000);
  return Status::OK();
}

Status ParseTlsFlags(const Args& args, wire::TlsOptions* tls, std::string_view usage) {
  tls->enabled = args.Has("-S");
  bool any_tls =
      args.Has("-J") || args.Has("-C") || args.Has("-K") || args.Has("-Q") || args.Has("-V");
  if (any_tls && !tls->enabled) return UsageError("-J, -C, -K, -Q and -V need -S (TLS)", usage);
  if (tls->enabled) {
    tls->ca_file = args.Value("-J");
    tls->cert_file = args.Value("-C");
    tls->key_file = args.Value("-K");
    tls->no_verify = args.Has("-V");
    if (args.Has("-Q")) {
      Result<std::string> pass = wire::ResolvePassphrase(args.Value("-Q"));
      if (!pass.ok()) return pass.status();
      tls->key_passphrase = std::move(*pass);
    }
  }
  return Status::OK();
}

Result<uint64_t> ParseStopPort(const Args& args, std::string_view usage) {
  Result<uint64_t> port = args.Number("-P", 0);
  if (!port.ok()) return port.status();
  if (!args.Has("-P") || *port == 0 || *port > 65535) {
    return Status::InvalidArgument(
        fmt::format("{} needs the port: {}", usage.substr(0, usage.find(' ')), usage));
  }
  return port;
}

std::string RunPath(const Home& home, const std::string& base, std::string_view ext) {
  return daemon::RunFilePath(home.RunDir(), base, ext);
}

Status StartShippingDaemon(const Context& ctx, const Args& args, const wire::TlsOptions& tls,
                           const std::string& log_path, const ShippingStart& s) {
  if (tls.enabled) {  // certificate problems are reported here, not in a log
    Result<std::shared_ptr<wire::TlsContext>> context = wire::TlsContext::Create(tls, s.role);
    if (!context.ok()) return context.status();
  }
  TRANSHIP_RETURN_IF_ERROR(ctx.home.EnsureLayout());
  if (s.check) TRANSHIP_RETURN_IF_ERROR(s.check());
  if (args.Has("--foreground")) return s.serve();
  {
    Result<std::unique_ptr<FileLock>> lock = s.lock();
    if (!lock.ok()) return lock.status();
  }
  DaemonLaunch launch;
  launch.args = DaemonServeArgs(s.group, args, &launch);
  launch.log_path = log_path;
  launch.what = s.what;
  Result<pid_t> pid = StartDaemon(launch, ctx.self_exe);
  if (!pid.ok()) return pid.status();
  s.started(*pid);
  return Status::OK();
}

Status RunDaemonServe(const Args& args, const std::string& group, const std::string& start_cmd,
                      const std::function<Status(ReadinessNotifier*)>& serve) {
  signal(SIGPIPE, SIG_IGN);
  Result<uint64_t> fd = args.Number("--notify-fd", UINT64_MAX);
  if (!fd.ok()) return fd.status();
  if (*fd == UINT64_MAX && !args.Has("--foreground")) {
    return Status::InvalidArgument(fmt::format(
        "'tranship {} serve' runs a {} in this process; use --foreground, or start a daemon "
        "with '{}'.",
        group, group, start_cmd));
  }
  ReadinessNotifier notifier(*fd == UINT64_MAX ? -1 : static_cast<int>(*fd));
  Status s = serve(&notifier);
  if (!s.ok() && *fd != UINT64_MAX) {
    notifier.Failed(s.message());
    std::exit(1);
  }
  return s;
}

}  // namespace tranship::cli
