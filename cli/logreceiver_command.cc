// The logreceiver daemon's commands:
//
//   startlogreceiver -P PORT -A MASTER_ADDR -T ARCHIVE_DIR -s STONE [TLS] [-l LOG] [-v|-q]
//                    [--foreground] [--timeout S] [--prefix P] [--from-start]
//   stoplogreceiver -P PORT [-s STONE]
//
// With an empty archive the receiver starts where the standby stone's restored state
// ends (it asks the stone, and waits for it while it is not running in restore mode);
// --from-start ships the primary's whole history from tranlog 1 instead.
//
// startlogreceiver checks what it can before launching (flags, the archive directory,
// certificates, a receiver already running for this port and stone), then starts
// `tranship logreceiver serve ...` as a daemon (cli/daemon.h) or, with --foreground, runs
// it in this process. The daemon's body is logreceiver/daemon.h; it owns
// run/logreceiver-PORT-STONE.{pid,status,lock} and log/logreceiver-PORT-STONE.log.

#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "base/file_lock.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/daemon.h"
#include "base/json.h"
#include "daemon/run_files.h"
#include "logreceiver/daemon.h"
#include "wire/tls.h"
#include "wire/transport.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::WritePidFile;
using daemon::ReadPidFile;
using daemon::ReadPidFiles;
using daemon::CurrentUser;
namespace {

using logreceiver::ReceiverConfig;

constexpr std::string_view kUsage =
    "startlogreceiver -P PORT -A MASTER_ADDR -T ARCHIVE_DIR -s STONE [-S -J CA -C CERT "
    "-K KEY -Q PASSPHRASE -V] [-l LOG] [-v|-q] [--foreground] [--timeout S] [--prefix P] "
    "[--from-start]";

Status Usage(std::string_view what) {
  return Status::InvalidArgument(fmt::format("{}. Usage: {}", what, kUsage));
}

Result<ReceiverConfig> ParseConfig(const Home& home, const Args& args) {
  ReceiverConfig c;
  for (std::string_view f : {"-P", "-A", "-T", "-s"}) {
    if (!args.Has(f)) return Usage(fmt::format("{} is required", f));
  }
  Result<uint64_t> port = args.Number("-P", 0);
  if (!port.ok()) return Usage(port.status().message());
  if (*port == 0 || *port > 65535) return Usage(fmt::format("-P {} is not a TCP port", *port));
  c.port = static_cast<int>(*port);
  c.master = args.Value("-A");
  c.stone = args.Value("-s");
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(c.stone));
  c.archive_dir = args.Value("-T");
  if (c.archive_dir.empty()) return Usage("-T needs a directory");
  if (c.archive_dir[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) c.archive_dir = JoinPath(cwd, c.archive_dir);
  }
  c.prefix = args.Value("--prefix", "tranlog");
  if (c.prefix.empty() || c.prefix.find('/') != std::string::npos) {
    return Usage(fmt::format("--prefix '{}' is not a file name prefix", c.prefix));
  }
  c.from_start = args.Has("--from-start");
  if (args.Has("-v") && args.Has("-q")) return Usage("-v and -q exclude each other");
  if (args.Has("-v")) c.level = LogLevel::kDebug;
  if (args.Has("-q")) c.level = LogLevel::kWarn;
  Result<uint64_t> timeout = args.Number("--timeout", 10);
  if (!timeout.ok()) return Usage(timeout.status().message());
  if (*timeout == 0 || *timeout > 3600) return Usage("--timeout must be 1 to 3600 seconds");
  c.timeout_ms = static_cast<uint32_t>(*timeout * 1000);
  c.base = fmt::format("logreceiver-{}-{}", c.port, c.stone);
  c.log_path = args.Value("-l", home.LogPath(c.base));

  TRANSHIP_RETURN_IF_ERROR(ParseTlsFlags(args, &c.tls, Usage));
  return c;
}

logreceiver::ReceiverHome ReceiverHomeOf(const Home& home, const std::string& stone) {
  return {home.RunDir(), home.SocketPath(stone), [&home] { return home.EnsureLayout(); }};
}

std::string RunPath(const Home& home, const std::string& base, std::string_view ext) {
  return daemon::RunFilePath(home.RunDir(), base, ext);
}

}  // namespace

Status LogreceiverStart(Context& ctx, const Args& args) {
  Result<ReceiverConfig> c = ParseConfig(ctx.home, args);
  if (!c.ok()) return c.status();
  if (c->tls.enabled) {  // certificate problems are reported here, not in a log
    Result<std::shared_ptr<wire::TlsContext>> tls =
        wire::TlsContext::Create(c->tls, wire::TlsContext::Role::kClient);
    if (!tls.ok()) return tls.status();
  }
  TRANSHIP_RETURN_IF_ERROR(ctx.home.EnsureLayout());
  TRANSHIP_RETURN_IF_ERROR(logreceiver::CheckArchiveDir(c->archive_dir));
  if (args.Has("--foreground")) return LogreceiverServe(ctx, args);
  {
    Result<std::unique_ptr<FileLock>> lock = logreceiver::LockReceiver(ctx.home.RunDir(), *c);
    if (!lock.ok()) return lock.status();
  }
  DaemonLaunch launch;
  launch.args = DaemonServeArgs("logreceiver", args, &launch);
  launch.log_path = c->log_path;
  launch.what = fmt::format("The logreceiver for stone '{}' on port {}", c->stone, c->port);
  Result<pid_t> pid = StartDaemon(launch, ctx.self_exe);
  if (!pid.ok()) return pid.status();
  fmt::print("logreceiver for stone '{}' started (pid {}), receiving from {}:{} into {}\n",
             c->stone, *pid, c->master, c->port, c->archive_dir);
  return Status::OK();
}

Status LogreceiverServe(Context& ctx, const Args& args) {
  return RunDaemonServe(args, "logreceiver", "startlogreceiver", [&](ReadinessNotifier* notifier) {
    Result<ReceiverConfig> c = ParseConfig(ctx.home, args);
    ForgetDaemonPassphrase();
    return c.ok() ? logreceiver::Serve(*c, ReceiverHomeOf(ctx.home, c->stone), notifier) : c.status();
  });
}

Status LogreceiverStop(Context& ctx, const Args& args) {
  Result<uint64_t> port = args.Number("-P", 0);
  if (!port.ok()) return port.status();
  if (!args.Has("-P") || *port == 0 || *port > 65535) {
    return Status::InvalidArgument(
        "stoplogreceiver needs the port: stoplogreceiver -P PORT [-s STONE]");
  }
  std::string prefix = fmt::format("logreceiver-{}-", *port);
  std::vector<ProcessDescription> running;
  for (ProcessDescription& d : ReadPidFiles(ctx.home.RunDir())) {
    if (d.type != "logreceiver" || d.port != std::to_string(*port)) continue;
    if (args.Has("-s") && d.name != args.Value("-s")) continue;
    std::string base = prefix + d.name;
    // The lock is free: the process is gone (kill -9, power cut) and left its files.
    Result<std::unique_ptr<FileLock>> lock =
        Env::Default()->LockFile(RunPath(ctx.home, base, "lock"));
    if (lock.ok() || !ProcessAlive(d.pid)) {
      (void)Env::Default()->RemoveFile(d.pidfile);
      (void)Env::Default()->RemoveFile(RunPath(ctx.home, base, "status"));
      continue;
    }
    running.push_back(std::move(d));
  }
  if (running.empty()) {
    return Status::NotFound(
        args.Has("-s")
            ? fmt::format("No logreceiver for the stone '{}' is running on port {}.",
                          args.Value("-s"), *port)
            : fmt::format("No logreceiver is running on port {}.", *port));
  }
  if (running.size() > 1) {
    std::string names;
    for (const ProcessDescription& d : running) names += (names.empty() ? "" : ", ") + d.name;
    return Status::InvalidArgument(fmt::format(
        "Several logreceivers run on port {} (stones {}). Say which with "
        "'stoplogreceiver -P {} -s STONE'.", *port, names, *port));
  }
  const ProcessDescription& d = running[0];
  std::string base = prefix + d.name;
  TRANSHIP_RETURN_IF_ERROR(StopDaemonProcess(
      d.pid, fmt::format("The logreceiver for stone '{}' on port {}", d.name, *port),
      ctx.home.LogPath(base), 60));
  fmt::print("logreceiver for stone '{}' on port {} stopped (pid {})\n", d.name, *port, d.pid);
  return Status::OK();
}

}  // namespace tranship::cli
