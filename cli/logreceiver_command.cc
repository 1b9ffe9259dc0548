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
// it in this process. The daemon owns run/logreceiver-PORT-STONE.{pid,status,lock} and
// log/logreceiver-PORT-STONE.log; the receiving itself is logreceiver/receiver.h.
// SIGTERM or SIGINT stop it cleanly: the last Ack, then the files are removed.

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
#include "logreceiver/receiver.h"
#include "logreceiver/standby_link.h"
#include "wire/tls.h"
#include "wire/transport.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::WritePidFile;
using daemon::ReadPidFile;
using daemon::ReadPidFiles;
using daemon::CurrentUser;
namespace {

using logreceiver::LogReceiver;

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

  c.tls.enabled = args.Has("-S");
  bool any_tls = args.Has("-J") || args.Has("-C") || args.Has("-K") || args.Has("-Q") ||
                 args.Has("-V");
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

// The archive directory must exist (it is created) and take files.
Status CheckArchiveDir(const std::string& dir) {
  Status s = Env::Default()->CreateDirs(dir);
  if (!s.ok() || ::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::IOError(fmt::format(
        "The archive directory {} is not writable ({}). To fix this create it for the user "
        "{} or pass another directory with -T.", dir,
        s.ok() ? std::string(strerror(errno)) : s.message(), CurrentUser()));
  }
  return Status::OK();
}

std::string RunPath(const Home& home, const std::string& base, std::string_view ext) {
  return daemon::RunFilePath(home.RunDir(), base, ext);
}

// Takes the lock that makes this the only receiver for its port and stone.
Result<std::unique_ptr<FileLock>> LockReceiver(const Home& home, const ReceiverConfig& c) {
  return daemon::LockRunFiles(home.RunDir(), c.base, [&](std::optional<pid_t> pid) {
    return Status::Busy(fmt::format(
        "A logreceiver for the stone '{}' on port {} is already running{}. To stop it run "
        "'stoplogreceiver -P {} -s {}'.", c.stone, c.port,
        pid ? fmt::format(" (pid {})", *pid) : "", c.port, c.stone));
  });
}

void WriteStatusFile(const std::string& path, const ReceiverConfig& c,
                     const LogReceiver& r) {
  LogReceiver::Snapshot s = r.status();
  JsonWriter j;
  j.BeginObject();
  j.Key("pid"); j.Int(getpid());
  j.Key("port"); j.Int(c.port);
  j.Key("stone"); j.String(c.stone);
  j.Key("master"); j.String(fmt::format("{}:{}", c.master, c.port));
  j.Key("tls"); j.Bool(c.tls.enabled);
  j.Key("state"); j.String(LogReceiver::ToString(s.state));
  j.Key("peer"); j.String(s.peer);
  j.Key("archive_dir"); j.String(c.archive_dir);
  j.Key("archive_end");
  j.BeginObject();
  j.Key("file"); j.Uint(s.archive_end.pos.file_id);
  j.Key("offset"); j.Uint(s.archive_end.pos.offset);
  j.Key("tid"); j.Uint(s.archive_end.tid);
  j.Key("commit_us"); j.Uint(s.archive_end.commit_time_us);
  j.EndObject();
  j.Key("primary_end");
  if (s.primary_known) {
    j.BeginObject();
    j.Key("file"); j.Uint(s.primary_end.pos.file_id);
    j.Key("offset"); j.Uint(s.primary_end.pos.offset);
    j.Key("tid"); j.Uint(s.primary_end.tid);
    j.Key("commit_us"); j.Uint(s.primary_end.commit_time_us);
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("lag_bytes"); j.Uint(s.lag_bytes);
  j.Key("lag_seconds"); j.Double(s.lag_seconds);
  j.Key("last_error"); j.String(s.last_error);
  j.Key("updated_us"); j.Uint(NowMicros());
  j.EndObject();
  Status w = WriteFileAtomic(Env::Default(), path, j.str() + "\n");
  if (!w.ok()) TS_LOG_WARN("cannot write {}: {}", path, w.ToString());
}

// The daemon's body: one loop with the receiver, the standby link, a status timer and
// the signal handles. Returns once a signal stopped everything.
Status Serve(const Home& home, const ReceiverConfig& c, ReadinessNotifier* notifier) {
  std::shared_ptr<wire::TlsContext> tls;
  if (c.tls.enabled) {
    Result<std::shared_ptr<wire::TlsContext>> ctx =
        wire::TlsContext::Create(c.tls, wire::TlsContext::Role::kClient);
    if (!ctx.ok()) return ctx.status();
    tls = std::move(*ctx);
  }
  TRANSHIP_RETURN_IF_ERROR(home.EnsureLayout());
  TRANSHIP_RETURN_IF_ERROR(CheckArchiveDir(c.archive_dir));
  Result<std::unique_ptr<FileLock>> lock = LockReceiver(home, c);
  if (!lock.ok()) return lock.status();
  TRANSHIP_RETURN_IF_ERROR(LogInit(c.log_path, c.level));
  TS_LOG_INFO("logreceiver for stone '{}' starting: pid {}, tranship {}, sender {}:{}, "
              "archive {}", c.stone, getpid(), TRANSHIP_VERSION, c.master, c.port,
              c.archive_dir);
  if (c.tls.enabled && c.tls.no_verify) {
    TS_LOG_WARN("TLS without verifying the logsender's certificate (-V): the link is "
                "encrypted but the peer is not authenticated");
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  logreceiver::ReceiverOptions o;
  o.stone = c.stone;
  o.host = host;
  o.master = fmt::format("{}:{}", c.master, c.port);
  o.env = Env::Default();
  o.archive_dir = c.archive_dir;
  o.prefix = c.prefix;
  o.timeout_ms = c.timeout_ms;
  std::string master = c.master;
  int port = c.port;
  // Declared before the receiver, which asks it where an empty archive starts: the link
  // outlives every question (Close() answers those still open).
  logreceiver::StandbyLink standby(&loop, home.SocketPath(c.stone), c.stone);
  o.from_start = c.from_start;
  o.ask_stone = [&standby](std::function<void(std::optional<StoneInfo>)> done) {
    standby.AskInfo(std::move(done));
  };
  LogReceiver receiver(&loop, o, [&loop, master, port, tls](auto done) {
    wire::Connect(&loop, master, port, tls, std::move(done));
  });
  const std::string status_path = RunPath(home, c.base, "status");
  const std::string pid_path = RunPath(home, c.base, "pid");
  receiver.on_durable = [&](const DurableEnd& end) { standby.Notify(end); };
  receiver.on_written = [&](const DurableEnd& end) { standby.Notify(end); };
  receiver.on_state = [&](LogReceiver::State) { WriteStatusFile(status_path, c, receiver); };

  standby.Start();  // first, so that the receiver's first question finds it connecting
  Status started = receiver.Start();
  if (!started.ok()) {
    TS_LOG_ERROR("logreceiver cannot start: {}", started.ToString());
    standby.Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return Status::IOError(fmt::format("Cannot start the logreceiver for '{}': {}. See {}.",
                                       c.stone, started.message(), c.log_path));
  }

  struct Handles {
    uv_signal_t sigterm, sigint;
    uv_timer_t status_timer;
    std::function<void(int)> on_signal;
    std::function<void()> on_tick;
  } h;
  uv_signal_init(&loop, &h.sigterm);
  uv_signal_init(&loop, &h.sigint);
  uv_timer_init(&loop, &h.status_timer);
  h.sigterm.data = h.sigint.data = h.status_timer.data = &h;
  h.on_tick = [&] { WriteStatusFile(status_path, c, receiver); };
  h.on_signal = [&](int signum) {
    std::string why = fmt::format("stop requested ({})", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    receiver.Stop(why);
    standby.Close();
    uv_close(reinterpret_cast<uv_handle_t*>(&h.sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&h.sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&h.status_timer), nullptr);
  };
  auto signal_cb = [](uv_signal_t* s, int signum) {
    static_cast<Handles*>(s->data)->on_signal(signum);
  };
  uv_signal_start(&h.sigterm, signal_cb, SIGTERM);
  uv_signal_start(&h.sigint, signal_cb, SIGINT);
  uv_timer_start(&h.status_timer, [](uv_timer_t* t) {
    static_cast<Handles*>(t->data)->on_tick();
  }, 1000, 1000);

  daemon::WritePidFileOrWarn(pid_path,
                             daemon::ThisProcess("logreceiver", c.stone, std::to_string(c.port)));
  WriteStatusFile(status_path, c, receiver);
  notifier->Ready(fmt::format("The logreceiver for stone '{}' receives from {}:{} into {}",
                              c.stone, c.master, c.port, c.archive_dir));

  uv_run(&loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop);
  if (rc != 0) TS_LOG_ERROR("logreceiver: a libuv handle was left open at exit");
  daemon::RemoveRunFiles(pid_path, {status_path});
  TS_LOG_INFO("logreceiver for stone '{}' stopped; archive ends at {}", c.stone,
              receiver.archive().durable_end().pos.ToString());
  return Status::OK();
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
  TRANSHIP_RETURN_IF_ERROR(CheckArchiveDir(c->archive_dir));
  if (args.Has("--foreground")) return LogreceiverServe(ctx, args);
  {
    Result<std::unique_ptr<FileLock>> lock = LockReceiver(ctx.home, *c);
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
    return c.ok() ? Serve(ctx.home, *c, notifier) : c.status();
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
