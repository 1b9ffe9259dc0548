// The logsender daemon's body (see daemon.h): the loop, the listener, the status file.
#include "logsender/daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/clock.h"
#include "base/file_lock.h"
#include "base/json.h"
#include "base/log_limiter.h"
#include "daemon/daemon.h"
#include "daemon/run_files.h"
#include "tranlog/json.h"
#include "wire/transport.h"

namespace tranship::logsender {
namespace {

void PublishStatus(const std::string& path, const SenderConfig& c, const SenderStatus& s) {
  JsonWriter j;
  j.BeginObject();
  j.Key("pid"); j.Int(getpid());
  j.Key("port"); j.Int(c.port);
  j.Key("listen"); j.String(fmt::format("{}:{}", c.listen, c.port));
  j.Key("stone"); j.String(c.stone);
  j.Key("tls"); j.Bool(c.tls.enabled);
  j.Key("stone_connected"); j.Bool(s.stone_connected);
  j.Key("primary_end"); PutDurableEndJson(&j, s.primary_end);
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
  daemon::WriteStatusFile(path, j.str() + "\n");
}

}  // namespace

// Takes the lock that makes this the only logsender on its port.
Result<std::unique_ptr<FileLock>> LockSender(const std::string& run_dir,
                                             const SenderConfig& c) {
  return daemon::LockRunFiles(run_dir, c.base, [&](std::optional<pid_t> pid) {
    return Status::Busy(fmt::format(
        "A logsender already runs on port {}{}. To stop it run 'stoplogsender -P {}'.", c.port,
        pid ? fmt::format(" (pid {})", *pid) : "", c.port));
  });
}

Status Serve(const SenderConfig& c, const SenderHome& h, daemon::ReadinessNotifier* notifier) {
  std::shared_ptr<wire::TlsContext> tls;
  if (c.tls.enabled) {
    Result<std::shared_ptr<wire::TlsContext>> ctx =
        wire::TlsContext::Create(c.tls, wire::TlsContext::Role::kServer);
    if (!ctx.ok()) return ctx.status();
    tls = std::move(*ctx);
  }
  TRANSHIP_RETURN_IF_ERROR(h.ensure_layout());
  Result<std::unique_ptr<FileLock>> lock = LockSender(h.run_dir, c);
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

  daemon::DaemonLoop loop("logsender");
  const std::string status_path = daemon::RunFilePath(h.run_dir, c.base, "status");
  const std::string pid_path = daemon::RunFilePath(h.run_dir, c.base, "pid");
  logsender::LogSenderOptions o;
  o.stone = c.stone;
  o.tranlog_dirs = c.dirs;
  o.prefix = c.prefix;
  o.stone_socket = h.stone_socket;
  o.tls = c.tls.enabled;
  o.bandwidth_bytes_per_s = c.bandwidth;
  o.zstd_level = c.zstd_level;
  o.timeout_ms = c.timeout_ms;
  bool serving = false;
  o.on_status = [&](const SenderStatus& s) {
    if (serving) PublishStatus(status_path, c, s);
  };
  LogSender sender(loop.loop(), o);
  Status started = sender.Start();
  if (!started.ok()) {
    loop.Close(daemon::DaemonLoop::Abandon::kNoWait);
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
      loop.loop(), c.listen, c.port, tls,
      [&sender](std::unique_ptr<wire::Transport> t) { sender.Accept(std::move(t)); }, lo);

  loop.OnStop([&](const std::string& why) {
    if (listener.ok()) (*listener)->Close();
    sender.Stop(why, [] {});
  });
  if (!listener.ok()) {
    loop.Stop("cannot listen");
    loop.Close(daemon::DaemonLoop::Abandon::kDrain);
    return cannot_start(listener.status());
  }
  loop.WatchSignals();

  daemon::WritePidFileOrWarn(pid_path,
                             daemon::ThisProcess("logsender", c.stone, std::to_string(c.port)));
  serving = true;
  PublishStatus(status_path, c, sender.Snapshot());
  TS_LOG_INFO("logsender for the stone '{}' listening on {}:{}{}", c.stone, c.listen, c.port,
              c.tls.enabled ? " (TLS)" : " (plaintext)");
  notifier->Ready(fmt::format("The logsender for the stone '{}' listens on {}:{}{}", c.stone,
                              c.listen, c.port, c.tls.enabled ? " (TLS)" : ""));

  loop.Run();
  serving = false;
  daemon::RemoveRunFiles(pid_path, {status_path});
  TS_LOG_INFO("logsender for the stone '{}' on port {} stopped", c.stone, c.port);
  return Status::OK();
}

}  // namespace tranship::logsender
