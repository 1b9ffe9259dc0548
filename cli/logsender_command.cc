// The logsender daemon's commands:
//
//   startlogsender -P PORT -A LISTEN_ADDR -T DIR[,DIR...] -s STONE [TLS] [-l LOG]
//                  [-b KB/s] [-v|-q] [--foreground] [--timeout S] [--prefix P]
//                  [--zstd-level N|off]
//   stoplogsender -P PORT
//
// startlogsender checks what it can before launching (flags, the stone, the tranlog
// directories, certificates, a logsender already on this port), then starts `tranship
// logsender serve ...` as a daemon (cli/daemon.h) or, with --foreground, runs it in this
// process. The daemon's body is logsender/daemon.h; it owns run/logsender-PORT.{pid,
// status,lock} and log/logsender-PORT.log.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "base/file_lock.h"
#include "base/log.h"
#include "base/log_limiter.h"
#include "cli/commands.h"
#include "cli/daemon.h"
#include "base/json.h"
#include "daemon/run_files.h"
#include "logsender/daemon.h"
#include "wire/tls.h"
#include "wire/transport.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::WritePidFile;
using daemon::ReadPidFile;
using daemon::CurrentUser;
namespace {

using logsender::SenderConfig;

constexpr std::string_view kUsage =
    "startlogsender -P PORT -A LISTEN_ADDR -T DIR[,DIR...] -s STONE [-S -J CA -C CERT -K KEY "
    "-Q PASSPHRASE -V] [-l LOG] [-b KB/s] [-v|-q] [--foreground] [--timeout S] [--prefix P] "
    "[--zstd-level N|off]";

Status Usage(std::string_view what) {
  return Status::InvalidArgument(fmt::format("{}. Usage: {}", what, kUsage));
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return JoinPath(cwd, path);
}

Result<SenderConfig> ParseConfig(const Home& home, const Args& args) {
  SenderConfig c;
  for (std::string_view f : {"-P", "-A", "-T", "-s"}) {
    if (!args.Has(f)) return Usage(fmt::format("{} is required", f));
  }
  Result<uint64_t> port = args.Number("-P", 0);
  if (!port.ok()) return Usage(port.status().message());
  if (*port == 0 || *port > 65535) return Usage(fmt::format("-P {} is not a TCP port", *port));
  c.port = static_cast<int>(*port);
  c.listen = args.Value("-A");
  if (c.listen.empty()) return Usage("-A needs the address to listen on");
  c.stone = args.Value("-s");
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(c.stone));
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(c.stone));
  Result<StoneConfig> stone_config = home.LoadStoneConfig(c.stone);
  if (!stone_config.ok()) return stone_config.status();
  c.prefix = args.Value("--prefix", stone_config->tranlog_prefix);
  if (c.prefix.empty() || c.prefix.find('/') != std::string::npos) {
    return Usage(fmt::format("--prefix '{}' is not a file name prefix", c.prefix));
  }
  std::string dirs = args.Value("-T");
  for (size_t start = 0; start <= dirs.size();) {
    size_t comma = dirs.find(',', start);
    if (comma == std::string::npos) comma = dirs.size();
    std::string dir = dirs.substr(start, comma - start);
    if (!dir.empty()) c.dirs.push_back(Absolute(dir));
    start = comma + 1;
  }
  if (c.dirs.empty()) return Usage("-T needs the stone's tranlog directories");
  for (const std::string& dir : c.dirs) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::NotFound(fmt::format(
          "The tranlog directory {} does not exist. To fix this give -T the tranlog "
          "directories of the stone '{}' ({}).",
          dir, c.stone, fmt::join(home.TranlogDirs(c.stone, *stone_config), ",")));
    }
  }
  if (args.Has("-v") && args.Has("-q")) return Usage("-v and -q exclude each other");
  if (args.Has("-v")) c.level = LogLevel::kDebug;
  if (args.Has("-q")) c.level = LogLevel::kWarn;
  Result<uint64_t> timeout = args.Number("--timeout", 10);
  if (!timeout.ok()) return Usage(timeout.status().message());
  if (*timeout == 0 || *timeout > 3600) return Usage("--timeout must be 1 to 3600 seconds");
  c.timeout_ms = static_cast<uint32_t>(*timeout * 1000);
  Result<uint64_t> kbps = args.Number("-b", 0);
  if (!kbps.ok()) return Usage(kbps.status().message());
  if (args.Has("-b") && (*kbps == 0 || *kbps > (1ull << 40))) {
    return Usage("-b wants the bandwidth per receiver in KB/s (1 KB = 1024 bytes), at least 1");
  }
  c.bandwidth = *kbps * 1024;
  if (std::string z = args.Value("--zstd-level", "1"); z == "off") {
    c.zstd_level = logsender::kUncompressed;
  } else {
    int level = 0;
    auto [p, ec] = std::from_chars(z.data(), z.data() + z.size(), level);
    if (ec != std::errc() || p != z.data() + z.size() || level < -100 || level > 19 ||
        level == 0) {
      return Usage(fmt::format("--zstd-level '{}': give off or a zstd level from -100 "
                               "(fastest) to 19 but not 0 (the default is 1)", z));
    }
    c.zstd_level = level;
  }
  c.base = fmt::format("logsender-{}", c.port);
  c.log_path = args.Value("-l", home.LogPath(c.base));

  TRANSHIP_RETURN_IF_ERROR(ParseTlsFlags(args, &c.tls, Usage));
  return c;
}

logsender::SenderHome SenderHomeOf(const Home& home, const std::string& stone) {
  return {home.RunDir(), home.SocketPath(stone), [&home] { return home.EnsureLayout(); }};
}

std::string RunPath(const Home& home, const std::string& base, std::string_view ext) {
  return daemon::RunFilePath(home.RunDir(), base, ext);
}

}  // namespace

Status LogsenderStart(Context& ctx, const Args& args) {
  Result<SenderConfig> c = ParseConfig(ctx.home, args);
  if (!c.ok()) return c.status();
  if (c->tls.enabled) {  // certificate problems are reported here, not in a log
    Result<std::shared_ptr<wire::TlsContext>> tls =
        wire::TlsContext::Create(c->tls, wire::TlsContext::Role::kServer);
    if (!tls.ok()) return tls.status();
  }
  TRANSHIP_RETURN_IF_ERROR(ctx.home.EnsureLayout());
  if (args.Has("--foreground")) return LogsenderServe(ctx, args);
  {
    Result<std::unique_ptr<FileLock>> lock = logsender::LockSender(ctx.home.RunDir(), *c);
    if (!lock.ok()) return lock.status();
  }
  DaemonLaunch launch;
  launch.args = DaemonServeArgs("logsender", args, &launch);
  launch.log_path = c->log_path;
  launch.what = fmt::format("The logsender on port {}", c->port);
  Result<pid_t> pid = StartDaemon(launch, ctx.self_exe);
  if (!pid.ok()) return pid.status();
  fmt::print("logsender for the stone '{}' started (pid {}), listening on {}:{}{}\n", c->stone,
             *pid, c->listen, c->port, c->tls.enabled ? " (TLS)" : "");
  return Status::OK();
}

Status LogsenderServe(Context& ctx, const Args& args) {
  return RunDaemonServe(args, "logsender", "startlogsender", [&](ReadinessNotifier* notifier) {
    Result<SenderConfig> c = ParseConfig(ctx.home, args);
    ForgetDaemonPassphrase();
    return c.ok() ? logsender::Serve(*c, SenderHomeOf(ctx.home, c->stone), notifier) : c.status();
  });
}

Status LogsenderStop(Context& ctx, const Args& args) {
  Result<uint64_t> port = args.Number("-P", 0);
  if (!port.ok()) return port.status();
  if (!args.Has("-P") || *port == 0 || *port > 65535) {
    return Status::InvalidArgument("stoplogsender needs the port: stoplogsender -P PORT");
  }
  std::string base = fmt::format("logsender-{}", *port);
  std::string pid_path = RunPath(ctx.home, base, "pid");
  Result<ProcessDescription> d = ReadPidFile(pid_path);
  // A free lock means no process holds it (kill -9, power cut): its files only mislead.
  Result<std::unique_ptr<FileLock>> lock =
      Env::Default()->LockFile(RunPath(ctx.home, base, "lock"));
  if (!d.ok() || lock.ok() || !ProcessAlive(d->pid)) {
    (void)Env::Default()->RemoveFile(pid_path);
    (void)Env::Default()->RemoveFile(RunPath(ctx.home, base, "status"));
    return Status::NotFound(fmt::format("No logsender is running on port {}.", *port));
  }
  TRANSHIP_RETURN_IF_ERROR(StopDaemonProcess(d->pid,
                                             fmt::format("The logsender on port {}", *port),
                                             ctx.home.LogPath(base), 60));
  fmt::print("logsender for the stone '{}' on port {} stopped (pid {})\n", d->name, *port,
             d->pid);
  return Status::OK();
}

}  // namespace tranship::cli
