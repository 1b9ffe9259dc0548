// TcpConn: the write side. Plaintext SharedBuffers go to uv_write as they are (the
// request keeps them alive); TLS plaintext is encrypted a chunk at a time as the socket
// drains.

#include <fmt/format.h>

#include <algorithm>

#include "wire/tcp_conn.h"

namespace tranship::wire {
namespace {

// TLS plaintext is encrypted this much at a time, and no more ciphertext than
// kTlsInflight waits in the socket's queue: a connection's own memory stays small while
// the shared plaintext buffers wait.
constexpr size_t kTlsChunk = 64 << 10;
constexpr size_t kTlsInflight = 256 << 10;

}  // namespace

struct TcpConn::WriteReq {
  uv_write_t req;
  TcpConn* conn;
  SharedBuffer data;  // keeps the bytes alive until libuv is done with them
  size_t n;
};

bool TcpConn::Write(SharedBuffer data) {
  if (state_ == State::kFlushing || state_ == State::kLingering || state_ == State::kClosed) {
    return true;  // dropped: on_closed is on its way
  }
  if (!data || data->empty()) return !above_high_water_;
  if (tls_) {
    tls_plain_bytes_ += data->size();
    tls_plain_.emplace_back(std::move(data), 0);
    PumpTls();
  } else {
    const std::string& s = *data;
    WriteRaw(std::move(data), s.data(), s.size());
  }
  if (QueuedBytes() >= kWriteHighWater) above_high_water_ = true;
  return !above_high_water_;
}

void TcpConn::WriteRaw(SharedBuffer data, const char* p, size_t n) {
  if (state_ == State::kClosed) return;
  auto* req = new WriteReq{{}, this, std::move(data), n};
  req->req.data = req;
  uv_buf_t b = uv_buf_init(const_cast<char*>(p), static_cast<unsigned int>(n));
  int r = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
                   [](uv_write_t* w, int status) {
                     auto* req = static_cast<WriteReq*>(w->data);
                     TcpConn* c = req->conn;
                     size_t n = req->n;
                     delete req;
                     c->OnWriteDone(n, status);
                   });
  if (r != 0) {
    delete req;
    Fail(Status::IOError(fmt::format("cannot write to {}: {}", peer_addr_, uv_strerror(r))));
    return;
  }
  inflight_bytes_ += n;
}

void TcpConn::FlushCiphertext() {
  if (!session_ || session_->PendingCiphertext() == 0) return;
  auto out = std::make_shared<std::string>();
  session_->TakeCiphertext(out.get());
  const char* p = out->data();
  size_t n = out->size();
  WriteRaw(std::move(out), p, n);
}

void TcpConn::PumpTls() {
  if (!handshake_done_ || (state_ != State::kOpen && state_ != State::kFlushing)) return;
  while (inflight_bytes_ < kTlsInflight && !tls_plain_.empty()) {
    auto& [buf, off] = tls_plain_.front();
    size_t n = std::min(kTlsChunk, buf->size() - off);
    Status st = session_->WritePlaintext(std::string_view(buf->data() + off, n));
    if (!st.ok()) {
      Fail(st);
      return;
    }
    off += n;
    tls_plain_bytes_ -= n;
    if (off == buf->size()) tls_plain_.pop_front();
    FlushCiphertext();
    if (state_ == State::kClosed) return;
  }
}

void TcpConn::OnWriteDone(size_t n, int status) {
  inflight_bytes_ -= n;
  if (state_ == State::kClosed) return;
  if (status < 0) {
    Fail(Status::IOError(fmt::format("writing to {} failed: {}", peer_addr_, uv_strerror(status))));
    return;
  }
  PumpTls();
  if (state_ == State::kFlushing) {
    MaybeFinishFlush();
    return;
  }
  if (above_high_water_ && QueuedBytes() <= kWriteLowWater && state_ == State::kOpen) {
    above_high_water_ = false;
    if (CanCallBack() && cb_.on_writable) cb_.on_writable();
  }
}

}  // namespace tranship::wire
