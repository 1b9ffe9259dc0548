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

namespace {

constexpr std::string_view kUsage =
    "startlogsender -P PORT -A LISTEN_ADDR -T DIR[,DIR...] -s STONE [-S -J CA -C CERT -K KEY "
    "-Q PASSPHRASE -V] [-l LOG] [-b KB/s] [-v|-q] [--foreground] [--timeout S] [--prefix P] "
    "[--zstd-level N|off]";

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return JoinPath(cwd, path);
}

Result<logsender::SenderConfig> ParseConfig(const Home& home, const Args& args) {
  logsender::SenderConfig c;
  Result<int> port = ParseShippingPort(args, kUsage);
  if (!port.ok()) return port.status();
  c.port = *port;
  c.base = fmt::format("logsender-{}", c.port);
  c.listen = args.Value("-A");
  if (c.listen.empty()) return UsageError("-A needs the address to listen on", kUsage);
  c.stone = args.Value("-s");
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(c.stone));
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(c.stone));
  Result<StoneConfig> stone_config = home.LoadStoneConfig(c.stone);
  if (!stone_config.ok()) return stone_config.status();
  c.prefix = args.Value("--prefix", stone_config->tranlog_prefix);
  if (c.prefix.empty() || c.prefix.find('/') != std::string::npos) {
    return UsageError(fmt::format("--prefix '{}' is not a file name prefix", c.prefix), kUsage);
  }
  std::string dirs = args.Value("-T");
  for (size_t start = 0; start <= dirs.size();) {
    size_t comma = dirs.find(',', start);
    if (comma == std::string::npos) comma = dirs.size();
    std::string dir = dirs.substr(start, comma - start);
    if (!dir.empty()) c.dirs.push_back(Absolute(dir));
    start = comma + 1;
  }
  if (c.dirs.empty()) return UsageError("-T needs the stone's tranlog directories", kUsage);
  for (const std::string& dir : c.dirs) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::NotFound(fmt::format(
          "The tranlog directory {} does not exist. To fix this give -T the tranlog "
          "directories of the stone '{}' ({}).",
          dir, c.stone, fmt::join(home.TranlogDirs(c.stone, *stone_config), ",")));
    }
  }
  TRANSHIP_RETURN_IF_ERROR(ParseLogFlags(args, kUsage, &c.level, &c.timeout_ms));
  Result<uint64_t> kbps = args.Number("-b", 0);
  if (!kbps.ok()) return UsageError(kbps.status().message(), kUsage);
  if (args.Has("-b") && (*kbps == 0 || *kbps > (1ull << 40))) {
    return UsageError(
        "-b wants the bandwidth per receiver in KB/s (1 KB = 1024 bytes), at least 1", kUsage);
  }
  c.bandwidth = *kbps * 1024;
  if (std::string z = args.Value("--zstd-level", "1"); z == "off") {
    c.zstd_level = logsender::kUncompressed;
  } else {
    int level = 0;
    auto [p, ec] = std::from_chars(z.data(), z.data() + z.size(), level);
    if (ec != std::errc() || p != z.data() + z.size() || level < -100 || level > 19 ||
        level == 0) {
      return UsageError(fmt::format("--zstd-level '{}': give off or a zstd level from -100 "
                                    "(fastest) to 19 but not 0 (the default is 1)", z),
                        kUsage);
    }
    c.zstd_level = level;
  }
  return ParseLogAndTls(args, home, kUsage, std::move(c));
}

}  // namespace

Status LogsenderStart(Context& ctx, const Args& args) {
  return StartShipping(ctx, args, ParseConfig, [&](const logsender::SenderConfig& c) {
    return ShippingStart{
        .check = nullptr,  // nothing to check beyond the flags
        .group = "logsender", .role = wire::TlsContext::Role::kServer,
        .what = fmt::format("The logsender on port {}", c.port),
        .lock = [&] { return logsender::LockSender(ctx.home.RunDir(), c); },
        .serve = [&] { return LogsenderServe(ctx, args); },
        .started = [&](pid_t pid) {
          fmt::print("logsender for the stone '{}' started (pid {}), listening on {}:{}{}\n",
                     c.stone, pid, c.listen, c.port, c.tls.enabled ? " (TLS)" : "");
        }};
  });
}

Status LogsenderStop(Context& ctx, const Args& args) {
  Result<uint64_t> port = ParseStopPort(args, "stoplogsender -P PORT");
  if (!port.ok()) return port.status();
  std::string base = fmt::format("logsender-{}", *port);
  std::string pid_path = RunPath(ctx.home, base, "pid");
  Result<daemon::ProcessDescription> d = daemon::ReadPidFile(pid_path);
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

Status LogsenderServe(Context& ctx, const Args& args) {
  return ServeShipping(ctx, args, "logsender", ParseConfig, logsender::Serve);
}

}  // namespace tranship::cli
