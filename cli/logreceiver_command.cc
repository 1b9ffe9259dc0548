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

namespace {

constexpr std::string_view kUsage =
    "startlogreceiver -P PORT -A MASTER_ADDR -T ARCHIVE_DIR -s STONE [-S -J CA -C CERT "
    "-K KEY -Q PASSPHRASE -V] [-l LOG] [-v|-q] [--foreground] [--timeout S] [--prefix P] "
    "[--from-start]";

Result<logreceiver::ReceiverConfig> ParseConfig(const Home& home, const Args& args) {
  logreceiver::ReceiverConfig c;
  Result<int> port = ParseShippingPort(args, kUsage);
  if (!port.ok()) return port.status();
  c.port = *port;
  c.master = args.Value("-A");
  c.stone = args.Value("-s");
  c.base = fmt::format("logreceiver-{}-{}", c.port, c.stone);
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(c.stone));
  c.archive_dir = args.Value("-T");
  if (c.archive_dir.empty()) return UsageError("-T needs a directory", kUsage);
  if (c.archive_dir[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) c.archive_dir = JoinPath(cwd, c.archive_dir);
  }
  c.prefix = args.Value("--prefix", "tranlog");
  if (c.prefix.empty() || c.prefix.find('/') != std::string::npos) {
    return UsageError(fmt::format("--prefix '{}' is not a file name prefix", c.prefix), kUsage);
  }
  c.from_start = args.Has("--from-start");
  TRANSHIP_RETURN_IF_ERROR(ParseLogFlags(args, kUsage, &c.level, &c.timeout_ms));
  return ParseLogAndTls(args, home, kUsage, std::move(c));
}

}  // namespace

Status LogreceiverStart(Context& ctx, const Args& args) {
  return StartShipping(ctx, args, ParseConfig, [&](const logreceiver::ReceiverConfig& c) {
    return ShippingStart{
        .check = [&] { return logreceiver::CheckArchiveDir(c.archive_dir); },
        .group = "logreceiver", .role = wire::TlsContext::Role::kClient,
        .what = fmt::format("The logreceiver for stone '{}' on port {}", c.stone, c.port),
        .lock = [&] { return logreceiver::LockReceiver(ctx.home.RunDir(), c); },
        .serve = [&] { return LogreceiverServe(ctx, args); },
        .started = [&](pid_t pid) {
          fmt::print("logreceiver for stone '{}' started (pid {}), receiving from {}:{} into {}\n",
                     c.stone, pid, c.master, c.port, c.archive_dir);
        }};
  });
}

Status LogreceiverStop(Context& ctx, const Args& args) {
  Result<uint64_t> port = ParseStopPort(args, "stoplogreceiver -P PORT [-s STONE]");
  if (!port.ok()) return port.status();
  std::string prefix = fmt::format("logreceiver-{}-", *port);
  std::vector<daemon::ProcessDescription> running;
  for (daemon::ProcessDescription& d : daemon::ReadPidFiles(ctx.home.RunDir())) {
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
    for (const daemon::ProcessDescription& d : running) {
      names += (names.empty() ? "" : ", ") + d.name;
    }
    return Status::InvalidArgument(fmt::format(
        "Several logreceivers run on port {} (stones {}). Say which with "
        "'stoplogreceiver -P {} -s STONE'.", *port, names, *port));
  }
  const daemon::ProcessDescription& d = running[0];
  std::string base = prefix + d.name;
  TRANSHIP_RETURN_IF_ERROR(StopDaemonProcess(
      d.pid, fmt::format("The logreceiver for stone '{}' on port {}", d.name, *port),
      ctx.home.LogPath(base), 60));
  fmt::print("logreceiver for stone '{}' on port {} stopped (pid {})\n", d.name, *port, d.pid);
  return Status::OK();
}

Status LogreceiverServe(Context& ctx, const Args& args) {
  return ServeShipping(ctx, args, "logreceiver", ParseConfig, logreceiver::Serve);
}

}  // namespace tranship::cli
