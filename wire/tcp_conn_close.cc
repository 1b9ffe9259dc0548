// TcpConn: closing. Every way out (Close, an error, the peer leaving, a timeout, the
// Transport destroyed) ends in CloseHandles(); on_closed runs exactly once, from a loop
// callback, never inside a call the user made.

#include <fmt/format.h>

#include "wire/tcp_conn.h"

namespace tranship::wire {

void TcpConn::StartTimer(uint64_t ms) {
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<TcpConn*>(t->data)->OnTimer(); }, ms,
                 0);
}

void TcpConn::Close(const Status& reason) {
  switch (state_) {
    case State::kOpen:
      close_reason_ = reason;
      state_ = State::kFlushing;
      UpdateReading();
      StartTimer(kFlushTimeoutMs);
      Defer();  // MaybeFinishFlush from the loop: on_closed must not run inside Close()
      return;
    case State::kIdle:
    case State::kPreAccept:
    case State::kHandshake:
      close_reason_ = reason;
      CloseHandles();
      return;
    default: return;  // already closing
  }
}

void TcpConn::Fail(const Status& why) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kPreAccept) {
    RefuseBeforeAccept(why, false);
    return;
  }
  if (close_reason_.ok()) close_reason_ = why;
  CloseHandles();
}

void TcpConn::MaybeFinishFlush() {
  if (state_ != State::kFlushing) return;
  if (handshake_done_) {
    PumpTls();
    if (state_ != State::kFlushing || tls_plain_bytes_ > 0) return;
    if (!tls_shutdown_sent_) {
      tls_shutdown_sent_ = true;
      session_->Shutdown();  // close_notify
      FlushCiphertext();
    }
  }
  if (state_ != State::kFlushing || inflight_bytes_ > 0) return;
  NotifyClosed();
  if (state_ == State::kFlushing) Linger();
}

void TcpConn::Linger() {
  state_ = State::kLingering;
  // Everything TLS had to say (an alert, close_notify) is on the wire: the session and
  // its buffers are not needed while the peer's FIN is awaited, and a flood of refused
  // handshakes must not keep them for the linger time.
  session_.reset();
  StartTimer(kLingerMs);
  shutdown_req_.data = this;
  int r = uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_),
                      [](uv_shutdown_t* req, int status) {
                        auto* c = static_cast<TcpConn*>(req->data);
                        if (status < 0) c->CloseHandles();
                      });
  if (r != 0) {
    CloseHandles();
    return;
  }
  UpdateReading();  // until the peer's FIN
}

void TcpConn::NotifyClosed() {
  if (closed_notified_ || !CanCallBack()) return;
  closed_notified_ = true;
  // Moved out first: the callback may destroy the Transport, and with it nothing here.
  auto f = std::move(cb_.on_closed);
  if (f) f(close_reason_);
}

void TcpConn::CloseHandles() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&defer_), OnHandleClosed);
}

void TcpConn::OnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<TcpConn*>(h->data);
  if (--c->open_handles_ > 0) return;
  c->in_final_ = true;
  c->NotifyClosed();
  c->in_final_ = false;
  if (!c->attached_) delete c;
}

void TcpConn::Abort() {
  hooks_ = {};
  closed_notified_ = true;
  CloseHandles();
}

void TcpConn::Detach() {
  attached_ = false;
  if (state_ == State::kClosed) {
    if (open_handles_ == 0 && !in_final_) delete this;
    return;
  }
  // A Close() in progress finishes on its own (the last frame still goes out);
  // anything else ends now.
  if (state_ != State::kFlushing && state_ != State::kLingering) CloseHandles();
}

}  // namespace tranship::wire
