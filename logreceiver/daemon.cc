// The logreceiver daemon's body (see daemon.h): the loop, the standby link, the status
// file.
#include "logreceiver/daemon.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/file_lock.h"
#include "base/json.h"
#include "daemon/daemon.h"
#include "daemon/run_files.h"
#include "tranlog/json.h"
#include "logreceiver/receiver.h"
#include "logreceiver/standby_link.h"
#include "wire/transport.h"

namespace tranship::logreceiver {
namespace {

void PublishStatus(const std::string& path, const ReceiverConfig& c,
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
  PutDurableEndJson(&j, s.archive_end);
  j.Key("primary_end");
  if (s.primary_known) {
    PutDurableEndJson(&j, s.primary_end);
  } else {
    j.Null();
  }
  j.Key("lag_bytes"); j.Uint(s.lag_bytes);
  j.Key("lag_seconds"); j.Double(s.lag_seconds);
  j.Key("last_error"); j.String(s.last_error);
  j.Key("updated_us"); j.Uint(NowMicros());
  j.EndObject();
  daemon::WriteStatusFile(path, j.str() + "\n");
}

}  // namespace

// The archive directory must exist (it is created) and take files.
Status CheckArchiveDir(const std::string& dir) {
  Status s = Env::Default()->CreateDirs(dir);
  if (!s.ok() || ::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::IOError(fmt::format(
        "The archive directory {} is not writable ({}). To fix this create it for the user "
        "{} or pass another directory with -T.", dir,
        s.ok() ? std::string(strerror(errno)) : s.message(), daemon::CurrentUser()));
  }
  return Status::OK();
}

// Takes the lock that makes this the only receiver for its port and stone.
Result<std::unique_ptr<FileLock>> LockReceiver(const std::string& run_dir,
                                               const ReceiverConfig& c) {
  return daemon::LockRunFiles(run_dir, c.base, [&](std::optional<pid_t> pid) {
    return Status::Busy(fmt::format(
        "A logreceiver for the stone '{}' on port {} is already running{}. To stop it run "
        "'stoplogreceiver -P {} -s {}'.", c.stone, c.port,
        pid ? fmt::format(" (pid {})", *pid) : "", c.port, c.stone));
  });
}

Status Serve(const ReceiverConfig& c, const ReceiverHome& h,
             daemon::ReadinessNotifier* notifier) {
  std::shared_ptr<wire::TlsContext> tls;
  if (c.tls.enabled) {
    Result<std::shared_ptr<wire::TlsContext>> ctx =
        wire::TlsContext::Create(c.tls, wire::TlsContext::Role::kClient);
    if (!ctx.ok()) return ctx.status();
    tls = std::move(*ctx);
  }
  TRANSHIP_RETURN_IF_ERROR(h.ensure_layout());
  TRANSHIP_RETURN_IF_ERROR(CheckArchiveDir(c.archive_dir));
  Result<std::unique_ptr<FileLock>> lock = LockReceiver(h.run_dir, c);
  if (!lock.ok()) return lock.status();
  TRANSHIP_RETURN_IF_ERROR(LogInit(c.log_path, c.level));
  TS_LOG_INFO("logreceiver for stone '{}' starting: pid {}, tranship {}, sender {}:{}, "
              "archive {}", c.stone, getpid(), TRANSHIP_VERSION, c.master, c.port,
              c.archive_dir);
  if (c.tls.enabled && c.tls.no_verify) {
    TS_LOG_WARN("TLS without verifying the logsender's certificate (-V): the link is "
                "encrypted but the peer is not authenticated");
  }

  daemon::DaemonLoop loop("logreceiver");
  uv_loop_t* uv = loop.loop();
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
  StandbyLink standby(uv, h.stone_socket, c.stone);
  o.from_start = c.from_start;
  o.ask_stone = [&standby](std::function<void(std::optional<StoneInfo>)> done) {
    standby.AskInfo(std::move(done));
  };
  LogReceiver receiver(uv, o, [uv, master, port, tls](auto done) {
    wire::Connect(uv, master, port, tls, std::move(done));
  });
  const std::string status_path = daemon::RunFilePath(h.run_dir, c.base, "status");
  const std::string pid_path = daemon::RunFilePath(h.run_dir, c.base, "pid");
  receiver.on_durable = [&](const DurableEnd& end) { standby.Notify(end); };
  receiver.on_written = [&](const DurableEnd& end) { standby.Notify(end); };
  receiver.on_state = [&](LogReceiver::State) { PublishStatus(status_path, c, receiver); };

  standby.Start();  // first, so that the receiver's first question finds it connecting
  Status started = receiver.Start();
  if (!started.ok()) {
    TS_LOG_ERROR("logreceiver cannot start: {}", started.ToString());
    standby.Close();
    loop.Close(daemon::DaemonLoop::Abandon::kDrain);
    return Status::IOError(fmt::format("Cannot start the logreceiver for '{}': {}. See {}.",
                                       c.stone, started.message(), c.log_path));
  }

  loop.OnStop([&](const std::string& why) {
    receiver.Stop(why);
    standby.Close();
  });
  loop.WatchSignals();
  loop.Every(1000, [&] { PublishStatus(status_path, c, receiver); });

  daemon::WritePidFileOrWarn(pid_path,
                             daemon::ThisProcess("logreceiver", c.stone, std::to_string(c.port)));
  PublishStatus(status_path, c, receiver);
  notifier->Ready(fmt::format("The logreceiver for stone '{}' receives from {}:{} into {}",
                              c.stone, c.master, c.port, c.archive_dir));

  loop.Run();
  daemon::RemoveRunFiles(pid_path, {status_path});
  TS_LOG_INFO("logreceiver for stone '{}' stopped; archive ends at {}", c.stone,
              receiver.archive().durable_end().pos.ToString());
  return Status::OK();
}

}  // namespace tranship::logreceiver
