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
// process. The daemon owns run/logsender-PORT.{pid,status,lock} and
// log/logsender-PORT.log; the shipping itself is logsender/logsender.h. SIGTERM or
// SIGINT stop it cleanly: a goodbye to each receiver, then the files are removed.

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
#include "logsender/logsender.h"
#include "wire/tls.h"
#include "wire/transport.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::WritePidFile;
using daemon::ReadPidFile;
using daemon::CurrentUser;
namespace {

using logsender::LogSender;
using logsender::SenderStatus;

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
  int zstd_level = logsender::kDefaultZstdLevel;  // --zstd-level
  wire::TlsOptions tls;
  std::string base;                   // "logsender-PORT": names the run and log files
};

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

  c.tls.enabled = args.Has("-S");
  bool any_tls =
      args.Has("-J") || args.Has("-C") || args.Has("-K") || args.Has("-Q") || args.Has("-V");
  if (any_tls && !c.tls.enabled) return Usage("-J, -C, -K, -Q and -V need -S (TLS)");
  if (c.tls.enabled) {
    c.tls.ca_file = args.Value("-J");
    c.tls.cert_file = args.Value("-C");
    c.tls.key_file = args.Value("-K");
    c.tls.no_verify = args.Has("-V");
    if (args.Has("-Q")) {
      Result<std::string> pass = wire::ResolvePassphrase(args.Value("-Q"));
      if (!pass.ok()) return pass.status();
      c.tls.key_passphrase = std::move(*pass);
    }
  }
  return c;
}

std::string RunPath(const Home& home, const std::string& base, std::string_view ext) {
  return daemon::RunFilePath(home.RunDir(), base, ext);
}

// Takes the lock that makes this the only logsender on its port.
Result<std::unique_ptr<FileLock>> LockSender(const Home& home, const SenderConfig& c) {
  return daemon::LockRunFiles(home.RunDir(), c.base, [&](std::optional<pid_t> pid) {
    return Status::Busy(fmt::format(
        "A logsender already runs on port {}{}. To stop it run 'stoplogsender -P {}'.", c.port,
        pid ? fmt::format(" (pid {})", *pid) : "", c.port));
  });
}

void PutEnd(JsonWriter* j, const DurableEnd& e) {
  j->BeginObject();
  j->Key("file"); j->Uint(e.pos.file_id);
  j->Key("offset"); j->Uint(e.pos.offset);
  j->Key("tid"); j->Uint(e.tid);
  j->Key("commit_us"); j->Uint(e.commit_time_us);
  j->EndObject();
}

void WriteStatusFile(const std::string& path, const SenderConfig& c, const SenderStatus& s) {
  JsonWriter j;
  j.BeginObject();
  j.Key("pid"); j.Int(getpid());
  j.Key("port"); j.Int(c.port);
  j.Key("listen"); j.String(fmt::format("{}:{}", c.listen, c.port));
  j.Key("stone"); j.String(c.stone);
  j.Key("tls"); j.Bool(c.tls.enabled);
  j.Key("stone_connected"); j.Bool(s.stone_connected);
  j.Key("primary_end"); PutEnd(&j, s.primary_end);
  j.Key("receivers");
  j.BeginArray();
  for (const logsender::ReceiverStatus& r : s.receivers) {
    j.BeginObject();
    j.Key("peer"); j.String(r.peer);
    j.Key("stone"); j.String(r.stone);
    j.Key("state"); j.String(r.state);
    j.Key("acked");
    if (r.has_acked) {
      j.BeginObject();
      j.Key("file"); j.Uint(r.acked.file_id);
      j.Key("offset"); j.Uint(r.acked.offset);
      j.Key("tid"); j.Uint(r.acked_tid);
      j.EndObject();
    } else {
      j.Null();
    }
    j.Key("sent");
    j.BeginObject();
    j.Key("file"); j.Uint(r.sent.file_id);
    j.Key("offset"); j.Uint(r.sent.offset);
    j.EndObject();
    j.Key("lag_bytes"); j.Uint(r.lag_bytes);
    j.Key("lag_seconds");
    if (r.lag_seconds) j.Double(*r.lag_seconds); else j.Null();
    j.EndObject();
  }
  j.EndArray();
  j.Key("frames_built"); j.Uint(s.frames_built);
  j.Key("frames_sent"); j.Uint(s.frames_sent);
  j.Key("cache_hits"); j.Uint(s.cache_hits);
  j.Key("frames_uncompressed"); j.Uint(s.frames_uncompressed);
  j.Key("zstd_level"); j.String(s.zstd_level);
  j.Key("bytes_sent"); j.Uint(s.bytes_sent);
  j.Key("refused_connections"); j.Uint(s.refused_connections);
  j.Key("dropped_sessions"); j.Uint(s.dropped_sessions);
  j.Key("updated_us"); j.Uint(NowMicros());
  j.EndObject();
  // Rewritten every second: no fsync, a crash leaves the old or the new file (rename).
  // Owner-only like everything in the home, whatever the umask.
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (f == nullptr && fd >= 0) ::close(fd);
  bool ok = f != nullptr && std::fputs((j.str() + "\n").c_str(), f) >= 0;
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    TS_LOG_WARN("cannot write {}: {}", path, strerror(errno));
  }
}

// The daemon's body: one loop with the listener, the LogSender and the signal handles.
// Returns once a signal stopped everything.
Status Serve(const Home& home, const SenderConfig& c, ReadinessNotifier* notifier) {
  std::shared_ptr<wire::TlsContext> tls;
  if (c.tls.enabled) {
    Result<std::shared_ptr<wire::TlsContext>> ctx =
        wire::TlsContext::Create(c.tls, wire::TlsContext::Role::kServer);
    if (!ctx.ok()) return ctx.status();
    tls = std::move(*ctx);
  }
  TRANSHIP_RETURN_IF_ERROR(home.EnsureLayout());
  Result<std::unique_ptr<FileLock>> lock = LockSender(home, c);
  if (!lock.ok()) return lock.status();
  TRANSHIP_RETURN_IF_ERROR(LogInit(c.log_path, c.level));
  TS_LOG_INFO("logsender for the stone '{}' starting: pid {}, tranship {}, listening on {}:{}, "
              "tranlogs in {}; frames {}", c.stone, getpid(), TRANSHIP_VERSION, c.listen,
              c.port, fmt::join(c.dirs, ", "), logsender::DescribeZstdLevel(c.zstd_level));
  if (!c.tls.enabled) {
    TS_LOG_WARN("plaintext link: records cross the network unencrypted (start with -S for TLS)");
  } else if (c.tls.no_verify) {
    TS_LOG_WARN("TLS without verifying the logreceivers' certificates (-V): the link is "
                "encrypted but the peers are not authenticated");
  }
  auto cannot_start = [&](const Status& s) {
    TS_LOG_ERROR("logsender cannot start: {}", s.ToString());
    return Status::IOError(fmt::format("Cannot start the logsender on port {}: {}. See {}.",
                                       c.port, s.message(), c.log_path));
  };

  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::string status_path = RunPath(home, c.base, "status");
  const std::string pid_path = RunPath(home, c.base, "pid");
  logsender::LogSenderOptions o;
  o.stone = c.stone;
  o.tranlog_dirs = c.dirs;
  o.prefix = c.prefix;
  o.stone_socket = home.SocketPath(c.stone);
  o.tls = c.tls.enabled;
  o.bandwidth_bytes_per_s = c.bandwidth;
  o.zstd_level = c.zstd_level;
  o.timeout_ms = c.timeout_ms;
  bool serving = false;
  o.on_status = [&](const SenderStatus& s) {
    if (serving) WriteStatusFile(status_path, c, s);
  };
  LogSender sender(&loop, o);
  Status started = sender.Start();
  if (!started.ok()) {
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return cannot_start(started);
  }
  wire::ListenOptions lo;
  // --timeout bounds every silence, the first one too: a connection that has not
  // finished its TLS handshake (or, plaintext, said nothing) by then is dropped.
  lo.handshake_timeout_ms = c.timeout_ms;
  // A flood of refused connections is summarised, not logged line by line.
  LogLimiter refusals(20, 10'000'000'000ull);
  lo.on_refused_peer = [&refusals, &sender](const Status& why) {
    sender.CountRefusedConnection();
    std::string note;
    if (refusals.Allow(MonotonicNanos(), &note)) {
      TS_LOG_WARN("refused a connection: {}{}", why.message(), note);
    }
  };
  Result<std::unique_ptr<wire::Listener>> listener = wire::Listener::Listen(
      &loop, c.listen, c.port, tls,
      [&sender](std::unique_ptr<wire::Transport> t) { sender.Accept(std::move(t)); }, lo);

  struct Handles {
    uv_signal_t sigterm, sigint;
    std::function<void(int)> on_signal;
  } h;
  uv_signal_init(&loop, &h.sigterm);
  uv_signal_init(&loop, &h.sigint);
  h.sigterm.data = h.sigint.data = &h;
  bool stopped = false;
  auto stop = [&](const std::string& why) {
    if (stopped) return;
    stopped = true;
    if (listener.ok()) (*listener)->Close();
    sender.Stop(why, [] {});
    uv_close(reinterpret_cast<uv_handle_t*>(&h.sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&h.sigint), nullptr);
  };
  h.on_signal = [&](int signum) {
    stop(fmt::format("stop requested ({})", signum == SIGTERM ? "SIGTERM" : "SIGINT"));
  };
  if (!listener.ok()) {
    stop("cannot listen");
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return cannot_start(listener.status());
  }
  auto signal_cb = [](uv_signal_t* s, int signum) {
    static_cast<Handles*>(s->data)->on_signal(signum);
  };
  uv_signal_start(&h.sigterm, signal_cb, SIGTERM);
  uv_signal_start(&h.sigint, signal_cb, SIGINT);

  daemon::WritePidFileOrWarn(pid_path,
                             daemon::ThisProcess("logsender", c.stone, std::to_string(c.port)));
  serving = true;
  WriteStatusFile(status_path, c, sender.Snapshot());
  TS_LOG_INFO("logsender for the stone '{}' listening on {}:{}{}", c.stone, c.listen, c.port,
              c.tls.enabled ? " (TLS)" : " (plaintext)");
  notifier->Ready(fmt::format("The logsender for the stone '{}' listens on {}:{}{}", c.stone,
                              c.listen, c.port, c.tls.enabled ? " (TLS)" : ""));

  uv_run(&loop, UV_RUN_DEFAULT);
  serving = false;
  int rc = uv_loop_close(&loop);
  if (rc != 0) TS_LOG_ERROR("logsender: a libuv handle was left open at exit");
  daemon::RemoveRunFiles(pid_path, {status_path});
  TS_LOG_INFO("logsender for the stone '{}' on port {} stopped", c.stone, c.port);
  return Status::OK();
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
    Result<std::unique_ptr<FileLock>> lock = LockSender(ctx.home, *c);
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
    return c.ok() ? Serve(ctx.home, *c, notifier) : c.status();
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
