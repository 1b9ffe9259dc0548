#pragma once
// Inside wire/: one TCP connection, plaintext or TLS, and its lifecycle. The public
// Transport object (TcpTransport) is a thin handle on a TcpConn; the TcpConn owns its
// libuv handles and frees itself in their close callbacks, so the Transport may be
// destroyed at any time, including inside on_closed.
//
// States:  pre-accept (server: TLS handshake, or the first bytes of a plaintext peer,
// before the listener hands the connection over) -> handshake (client TLS, after Start)
// -> open -> flushing (Close: queued bytes go out) -> lingering (FIN sent, reading
// until the peer closes or a timeout) -> closed (handles closing).
//
// REQUIRES: every call on the loop thread.

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "wire/tls_session.h"
#include "wire/transport.h"

namespace tranship::wire {

// Close() gives queued bytes this long to leave, then the peer this long to close its
// end after our FIN (so that a last frame is read rather than lost to a reset).
inline constexpr uint64_t kFlushTimeoutMs = 5000;
inline constexpr uint64_t kLingerMs = 2000;

class TcpConn {
 public:
  enum class Side { kAccepted, kConnecting };
  // The listener's view of a connection it has not handed over yet.
  struct AcceptHooks {
    std::function<void(TcpConn*)> on_ready;                    // hand it over
    std::function<void(TcpConn*, const Status&)> on_refused;   // dropped, with a reason
  };

  // Initialises the handles; the TcpConn frees itself once Abort/Close completed.
  static TcpConn* New(uv_loop_t* loop, Side side, std::shared_ptr<TlsContext> tls);
  uv_tcp_t* tcp() { return &tcp_; }

  // Server side, right after uv_accept: read, detect mismatches, handshake; then
  // hooks.on_ready or hooks.on_refused, unless DetachListener() came first.
  void BeginAccepted(AcceptHooks hooks, uint32_t handshake_timeout_ms);
  void DetachListener() { hooks_ = {}; }
  // Client side, TCP connected: prepares the TLS session for `host`.
  Status BeginConnected(const std::string& host);
  // Client side, TCP connect still pending: give up after `ms`.
  void StartConnectTimer(uint32_t ms, std::function<void()> on_timeout);
  void StopTimer() { uv_timer_stop(&timer_); }

  // ---- Transport ----
  void Start(Transport::Callbacks cb);
  bool Write(SharedBuffer data);
  size_t QueuedBytes() const { return inflight_bytes_ + tls_plain_bytes_; }
  void PauseReading();
  void ResumeReading();
  void Close(const Status& reason);
  std::string PeerName() const;
  bool IsTls() const { return tls_ != nullptr; }
  // The Transport is gone: no callbacks any more; abort unless already closing.
  void Detach();
  // A Transport now owns the connection (TcpConn frees itself only once detached).
  void Attach() { attached_ = true; }
  // Closes the handles at once, without callbacks (failed connects, listener close).
  void Abort();

 private:
  enum class State { kIdle, kPreAccept, kHandshake, kOpen, kFlushing, kLingering, kClosed };
  struct WriteReq;

  TcpConn(uv_loop_t* loop, std::shared_ptr<TlsContext> tls);
  ~TcpConn() = default;
  void SetPeerAddr();
  void UpdateReading();
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void OnBytes(std::string_view bytes);
  void OnPreAcceptBytes(std::string_view bytes);
  void OnHandshakeBytes(std::string_view bytes);
  void DrainTlsPlaintext();
  void Deliver(std::string_view plain);
  void HandOver();
  void RefuseBeforeAccept(const Status& why, bool send_refuse_frame);
  void OnTimer();
  void RunDeferred();
  void Defer();
  // Writes ciphertext the TLS session produced (handshake, alerts, records).
  void FlushCiphertext();
  void PumpTls();
  void WriteRaw(SharedBuffer data, const char* p, size_t n);
  void OnWriteDone(size_t n, int status);
  void Fail(const Status& why);
  void NotifyClosed();
  void StartTimer(uint64_t ms);
  void MaybeFinishFlush();
  void Linger();
  void CloseHandles();
  bool CanCallBack() const { return started_ && attached_; }
  static void OnHandleClosed(uv_handle_t* h);

  uv_loop_t* loop_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;  // handshake, connect, flush and linger timeouts
  uv_timer_t defer_;  // callbacks that must not run inside the caller's stack
  uv_shutdown_t shutdown_req_;
  int open_handles_ = 0;
  State state_ = State::kIdle;
  bool server_ = false;
  std::shared_ptr<TlsContext> tls_;
  std::unique_ptr<TlsSession> session_;
  std::string peer_addr_;
  std::string peer_subject_;
  AcceptHooks hooks_;
  uint32_t handshake_timeout_ms_ = kHandshakeTimeoutMs;

  Transport::Callbacks cb_;
  bool started_ = false;
  bool attached_ = false;
  bool in_final_ = false;       // inside the last close callback
  bool handshake_done_ = false;
  bool tls_shutdown_sent_ = false;
  bool user_paused_ = false;
  bool reading_ = false;
  bool deferred_ready_ = false;
  bool closed_notified_ = false;
  Status close_reason_;
  std::string pending_plain_;  // read before Start (plaintext server side)
  std::unique_ptr<char[]> read_buf_;

  // Write side. Plaintext: SharedBuffers go to uv_write as they are. TLS: plaintext
  // waits here and is encrypted a chunk at a time as the socket drains, so a
  // connection holds little ciphertext whatever is queued.
  std::deque<std::pair<SharedBuffer, size_t>> tls_plain_;  // buffer, bytes consumed
  size_t tls_plain_bytes_ = 0;
  size_t inflight_bytes_ = 0;
  bool above_high_water_ = false;
  std::function<void()> on_connect_timeout_;
};

// Wraps a handed-over connection in the public Transport interface.
std::unique_ptr<Transport> MakeTcpTransport(TcpConn* conn);

}  // namespace tranship::wire
