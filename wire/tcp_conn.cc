#include "wire/tcp_conn.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "wire/protocol.h"

namespace tranship::wire {
namespace {

constexpr size_t kReadBufferSize = 64 << 10;
// First byte of a TLS handshake and alert record.
constexpr uint8_t kTlsHandshakeRecord = 0x16;
constexpr uint8_t kTlsAlertRecord = 0x15;

}  // namespace


TcpConn::TcpConn(uv_loop_t* loop, std::shared_ptr<TlsContext> tls)
    : loop_(loop), tls_(std::move(tls)), read_buf_(new char[kReadBufferSize]) {}

TcpConn* TcpConn::New(uv_loop_t* loop, Side side, std::shared_ptr<TlsContext> tls) {
  auto* c = new TcpConn(loop, std::move(tls));
  c->server_ = side == Side::kAccepted;
  int r = uv_tcp_init(loop, &c->tcp_);
  r |= uv_timer_init(loop, &c->timer_);
  r |= uv_timer_init(loop, &c->defer_);
  assert(r == 0);  // these only fail on bad arguments
  (void)r;
  c->tcp_.data = c->timer_.data = c->defer_.data = c;
  c->open_handles_ = 3;
  return c;
}

void TcpConn::SetPeerAddr() {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  char ip[64] = "?";
  int port = 0;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      uv_ip6_name(a, ip, sizeof(ip));
      port = ntohs(a->sin6_port);
      peer_addr_ = fmt::format("[{}]:{}", ip, port);
      return;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  }
  peer_addr_ = fmt::format("{}:{}", ip, port);
}

std::string TcpConn::PeerName() const {
  return peer_subject_.empty() ? peer_addr_ : peer_addr_ + ", " + peer_subject_;
}

// ---- setting up ----

void TcpConn::BeginAccepted(AcceptHooks hooks, uint32_t handshake_timeout_ms) {
  hooks_ = std::move(hooks);
  handshake_timeout_ms_ = handshake_timeout_ms;
  uv_tcp_nodelay(&tcp_, 1);
  SetPeerAddr();
  state_ = State::kPreAccept;
  if (tls_) {
    auto s = TlsSession::Create(tls_, "", peer_addr_);
    if (!s.ok()) {
      RefuseBeforeAccept(s.status(), false);
      return;
    }
    session_ = std::move(s).value();
  }
  StartTimer(handshake_timeout_ms_);
  UpdateReading();
}

Status TcpConn::BeginConnected(const std::string& host) {
  uv_tcp_nodelay(&tcp_, 1);
  SetPeerAddr();
  if (!tls_) {
    state_ = State::kOpen;
    return Status::OK();
  }
  auto s = TlsSession::Create(tls_, host, peer_addr_);
  if (!s.ok()) return s.status();
  session_ = std::move(s).value();
  state_ = State::kHandshake;
  return Status::OK();
}

void TcpConn::StartConnectTimer(uint32_t ms, std::function<void()> on_timeout) {
  on_connect_timeout_ = std::move(on_timeout);
  StartTimer(ms);
}

void TcpConn::Start(Transport::Callbacks cb) {
  assert(!started_);
  cb_ = std::move(cb);
  started_ = true;
  if (state_ == State::kClosed) return;  // on_closed follows from the close callbacks
  if (state_ == State::kHandshake) {
    // Client TLS: send the ClientHello now; on_ready once the handshake is done.
    StartTimer(kHandshakeTimeoutMs);
    bool done = false;
    Status st = session_->Handshake(&done);
    FlushCiphertext();
    if (!st.ok()) {
      Fail(st);
      return;
    }
    UpdateReading();
    return;
  }
  deferred_ready_ = true;
  Defer();
}

// ---- reading ----

void TcpConn::UpdateReading() {
  bool want = false;
  switch (state_) {
    case State::kPreAccept: want = true; break;
    case State::kHandshake: want = started_; break;
    case State::kOpen: want = started_ && !user_paused_ && !deferred_ready_; break;
    case State::kLingering: want = true; break;
    default: break;
  }
  if (want && !reading_) {
    int r = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp_),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* c = static_cast<TcpConn*>(h->data);
          *b = uv_buf_init(c->read_buf_.get(), kReadBufferSize);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
          static_cast<TcpConn*>(s->data)->OnRead(n, b);
        });
    if (r != 0) {
      Fail(Status::IOError(fmt::format("cannot read from {}: {}", peer_addr_, uv_strerror(r))));
      return;
    }
    reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void TcpConn::PauseReading() {
  user_paused_ = true;
  UpdateReading();
}

void TcpConn::ResumeReading() {
  user_paused_ = false;
  UpdateReading();
}

void TcpConn::OnRead(ssize_t nread, const uv_buf_t* /*buf*/) {
  if (nread > 0) {
    OnBytes(std::string_view(read_buf_.get(), static_cast<size_t>(nread)));
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread != UV_EOF) {
    Fail(Status::IOError(fmt::format("the connection to {} failed: {}", peer_addr_,
                                     uv_strerror(static_cast<int>(nread)))));
    return;
  }
  switch (state_) {
    case State::kPreAccept:
      RefuseBeforeAccept(
          Status::Aborted(fmt::format("the peer at {} closed the connection before {}",
                                      peer_addr_, tls_ ? "the TLS handshake ended"
                                                       : "saying anything")),
          false);
      return;
    case State::kHandshake:
      if (session_->bytes_fed() == 0) {
        Fail(Status::IOError(fmt::format(
            "the logsender at {} does not speak TLS (is it started without -S?)", peer_addr_)));
      } else {
        Fail(Status::IOError(fmt::format(
            "TLS handshake with {} failed: the peer closed the connection", peer_addr_)));
      }
      return;
    case State::kLingering: CloseHandles(); return;
    default:
      Fail(Status::Aborted(fmt::format("the peer at {} closed the connection", peer_addr_)));
      return;
  }
}

void TcpConn::OnBytes(std::string_view bytes) {
  switch (state_) {
    case State::kPreAccept: OnPreAcceptBytes(bytes); return;
    case State::kHandshake: OnHandshakeBytes(bytes); return;
    case State::kOpen:
      if (tls_) {
        session_->FeedCiphertext(bytes);
        DrainTlsPlaintext();
      } else {
        Deliver(bytes);
      }
      return;
    default: return;  // closing: what the peer still sends is dropped
  }
}

void TcpConn::OnPreAcceptBytes(std::string_view bytes) {
  auto first = static_cast<uint8_t>(bytes[0]);
  if (tls_) {
    if (session_->bytes_fed() == 0 && first != kTlsHandshakeRecord) {
      // A plaintext receiver: tell it in a frame it can read, then close.
      std::string frame;
      EncodeRefuse(&frame, {RefuseCode::kTlsRequired,
                            "this logsender requires TLS; start the logreceiver with -S and "
                            "certificates"});
      auto buf = std::make_shared<const std::string>(std::move(frame));
      WriteRaw(buf, buf->data(), buf->size());
      RefuseBeforeAccept(
          Status::InvalidArgument(fmt::format(
              "the peer at {} sent plaintext to this TLS logsender; start the logreceiver "
              "with -S and certificates",
              peer_addr_)),
          true);
      return;
    }
    session_->FeedCiphertext(bytes);
    bool done = false;
    Status st = session_->Handshake(&done);
    FlushCiphertext();  // our handshake messages, or the alert that says why
    if (!st.ok()) {
      RefuseBeforeAccept(st, true);
      return;
    }
    if (done) {
      peer_subject_ = session_->PeerSubject();
      HandOver();
    }
    return;
  }
  pending_plain_.append(bytes);
  if (static_cast<uint8_t>(pending_plain_[0]) != kTlsHandshakeRecord) {
    HandOver();
  } else if (pending_plain_.size() >= 2) {
    // 0x16 0x03 cannot start a Hello frame: it would announce 790+ bytes, more than
    // the longest Hello. It is the start of a TLS record.
    if (pending_plain_[1] == 0x03) {
      RefuseBeforeAccept(Status::InvalidArgument(fmt::format(
                             "the peer at {} tried TLS; start the logsender with -S",
                             peer_addr_)),
                         false);
    } else {
      HandOver();
    }
  }
}

void TcpConn::OnHandshakeBytes(std::string_view bytes) {
  auto first = static_cast<uint8_t>(bytes[0]);
  if (session_->bytes_fed() == 0 && first != kTlsHandshakeRecord && first != kTlsAlertRecord) {
    Fail(Status::IOError(fmt::format(
        "the logsender at {} does not speak TLS (is it started without -S?)", peer_addr_)));
    return;
  }
  session_->FeedCiphertext(bytes);
  bool done = false;
  Status st = session_->Handshake(&done);
  FlushCiphertext();
  if (!st.ok()) {
    close_reason_ = st;
    state_ = State::kFlushing;  // let the alert out
    tls_plain_.clear();
    tls_plain_bytes_ = 0;
    UpdateReading();
    StartTimer(kFlushTimeoutMs);
    MaybeFinishFlush();
    return;
  }
  if (!done) return;
  uv_timer_stop(&timer_);
  state_ = State::kOpen;
  handshake_done_ = true;
  peer_subject_ = session_->PeerSubject();
  if (CanCallBack() && cb_.on_ready) cb_.on_ready();
  if (state_ != State::kOpen) return;
  PumpTls();
  DrainTlsPlaintext();
}

void TcpConn::DrainTlsPlaintext() {
  std::string plain;
  bool peer_closed = false;
  Status st = session_->ReadPlaintext(&plain, &peer_closed);
  FlushCiphertext();
  if (!plain.empty()) {
    Deliver(plain);
    if (state_ != State::kOpen) return;
  }
  if (!st.ok()) {
    Fail(st);
  } else if (peer_closed) {
    Fail(Status::Aborted(fmt::format("the peer at {} closed the connection", peer_addr_)));
  }
}

void TcpConn::Deliver(std::string_view plain) {
  if (CanCallBack() && cb_.on_data) cb_.on_data(plain);
}

void TcpConn::HandOver() {
  uv_timer_stop(&timer_);
  state_ = State::kOpen;
  handshake_done_ = tls_ != nullptr;
  UpdateReading();  // not before Start()
  AcceptHooks hooks = std::move(hooks_);
  hooks_ = {};
  if (hooks.on_ready) {
    hooks.on_ready(this);
  } else {
    Abort();
  }
}

void TcpConn::RefuseBeforeAccept(const Status& why, bool flush) {
  AcceptHooks hooks = std::move(hooks_);
  hooks_ = {};
  close_reason_ = why;
  if (flush) {
    state_ = State::kFlushing;
    UpdateReading();
    StartTimer(kFlushTimeoutMs);
    MaybeFinishFlush();
  } else {
    CloseHandles();
  }
  if (hooks.on_refused) hooks.on_refused(this, why);
}

// ---- timers and deferred callbacks ----

void TcpConn::OnTimer() {
  switch (state_) {
    case State::kIdle:
      if (on_connect_timeout_) on_connect_timeout_();
      return;
    case State::kPreAccept:
      RefuseBeforeAccept(
          Status::TimedOut(fmt::format(
              "the peer at {} {} within {} ms; dropped", peer_addr_,
              tls_ ? "did not complete the TLS handshake" : "sent nothing",
              handshake_timeout_ms_)),
          false);
      return;
    case State::kHandshake:
      Fail(Status::TimedOut(fmt::format("the TLS handshake with {} did not complete within {} ms",
                                        peer_addr_, kHandshakeTimeoutMs)));
      return;
    case State::kFlushing:
    case State::kLingering: CloseHandles(); return;
    default: return;
  }
}

void TcpConn::Defer() {
  uv_timer_start(&defer_, [](uv_timer_t* t) { static_cast<TcpConn*>(t->data)->RunDeferred(); },
                 0, 0);
}

void TcpConn::RunDeferred() {
  if (state_ == State::kClosed) return;
  if (deferred_ready_) {
    deferred_ready_ = false;
    if (CanCallBack() && cb_.on_ready) cb_.on_ready();
    if (state_ != State::kOpen) {
      if (state_ == State::kFlushing) MaybeFinishFlush();
      return;
    }
    if (server_ && tls_) {
      DrainTlsPlaintext();  // records that came with the handshake
    } else if (!pending_plain_.empty()) {
      std::string p;
      p.swap(pending_plain_);
      Deliver(p);
    }
    if (state_ != State::kOpen) return;
    UpdateReading();
  }
  if (state_ == State::kFlushing) MaybeFinishFlush();
}

}  // namespace tranship::wire
