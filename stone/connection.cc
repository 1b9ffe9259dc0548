#include "stone/connection.h"

#include <climits>

#include "base/log.h"

namespace tranship {
namespace cp = client_protocol;

namespace {
// Read size per system call: a 16-connection commit storm parses hundreds of
// messages per read at this size.
constexpr size_t kReadChunk = 64 << 10;
// Requests of one connection queued in the engine before it stops reading it. A
// blocking client has one; a pipelining client gets plenty of room.
constexpr uint32_t kMaxInflight = 4096;
// Reply bytes waiting for a slow reader before it stops reading that connection.
constexpr size_t kMaxQueuedOutput = 8 << 20;
// A buffer that grew past this for one big reply is given back afterwards.
constexpr size_t kKeepCapacity = 1 << 20;

void Trim(std::string* s) {
  if (s->capacity() > kKeepCapacity) std::string().swap(*s);
}
}  // namespace

Connection::Connection(ConnectionHost* host, uint64_t id, uv_loop_t* loop)
    : host_(host), id_(id) {
  uv_pipe_init(loop, &pipe_, 0);
  pipe_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
}

bool Connection::Accept(uv_stream_t* server) {
  int rc = uv_accept(server, stream());
  if (rc != 0) {
    TS_LOG_WARN("accept client connection: {}", uv_strerror(rc));
    Close();
    return false;
  }
  TS_LOG_DEBUG("client connection {} opened", id_);
  return true;
}

void Connection::StartReading() {
  if (reading_ || closing_ || eof_ || shutdown_wanted_ || host_->stopping()) return;
  int rc = uv_read_start(
      stream(),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(h->data);
        std::span<char> room = c->in_.PrepareWrite(kReadChunk);
        *buf = uv_buf_init(room.data(), static_cast<unsigned>(std::min<size_t>(room.size(), UINT_MAX)));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
        static_cast<Connection*>(s->data)->OnRead(nread);
      });
  if (rc != 0) {
    TS_LOG_WARN("client connection {}: read: {}", id_, uv_strerror(rc));
    Close();
    return;
  }
  reading_ = true;
}

void Connection::StopReading() {
  if (!reading_) return;
  uv_read_stop(stream());
  reading_ = false;
}

void Connection::OnRead(ssize_t nread) {
  if (nread > 0) {
    in_.CommitWrite(static_cast<size_t>(nread));
    ProcessInput();
    Flush();
  } else if (nread == UV_EOF) {
    // The peer is done sending; answer what it asked, then close.
    eof_ = true;
    StopReading();
    Flush();
    MaybeShutdown();
  } else if (nread < 0) {
    TS_LOG_DEBUG("client connection {}: {}", id_, uv_strerror(static_cast<int>(nread)));
    Close();
  }
}

bool Connection::Saturated() const {
  return inflight_ >= kMaxInflight || out_.size() + writing_.size() >= kMaxQueuedOutput;
}

// Handles every complete frame buffered, unless backpressure says stop.
void Connection::ProcessInput() {
  while (!closing_ && !host_->stopping()) {
    if (Saturated()) {
      paused_ = true;
      StopReading();
      return;
    }
    cp::Frame f;
    cp::FrameReader::Next next = in_.Read(&f);
    if (next == cp::FrameReader::Next::kNeedMore) break;
    Status st = next == cp::FrameReader::Next::kError ? in_.error() : host_->HandleFrame(this, f);
    if (!st.ok()) {
      TS_LOG_WARN("closing client connection {}: {}", id_, st.message());
      Flush();  // best effort: replies to the valid requests before the garbage
      Close();
      return;
    }
  }
  paused_ = false;
  StartReading();
}

void Connection::Flush() {
  if (closing_ || write_in_flight_ || out_.empty()) return;
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(stream(), &buf, 1);
  if (n >= 0 && static_cast<size_t>(n) == out_.size()) {
    out_.clear();
    Trim(&out_);
    MaybeShutdown();  // the last reply owed to a peer that stopped sending went out
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    TS_LOG_DEBUG("client connection {}: write: {}", id_, uv_strerror(n));
    Close();
    return;
  }
  // The socket buffer is full: hand the rest to libuv and collect new replies in the
  // other buffer meanwhile.
  size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
  writing_.swap(out_);
  out_.clear();
  buf = uv_buf_init(writing_.data() + sent, static_cast<unsigned>(writing_.size() - sent));
  int rc = uv_write(&write_req_, stream(), &buf, 1, [](uv_write_t* req, int status) {
    static_cast<Connection*>(req->data)->OnWritten(status);
  });
  if (rc != 0) {
    TS_LOG_DEBUG("client connection {}: write: {}", id_, uv_strerror(rc));
    Close();
    return;
  }
  write_in_flight_ = true;
}

void Connection::OnWritten(int status) {
  write_in_flight_ = false;
  writing_.clear();
  Trim(&writing_);
  if (status < 0) {
    if (status != UV_ECANCELED) {
      TS_LOG_DEBUG("client connection {}: write: {}", id_, uv_strerror(status));
    }
    Close();
    return;
  }
  if (end_pending_) {
    end_pending_ = false;
    SendDurableEnd(host_->latest_end());
  }
  if (paused_ && !Saturated()) ProcessInput();
  Flush();
  MaybeShutdown();
}

bool Connection::MarkDirty() {
  if (dirty_ || closing_) return false;
  dirty_ = true;
  return true;
}

void Connection::FlushIfDirty() {
  if (!dirty_) return;
  dirty_ = false;
  Flush();
}

void Connection::RequestDone() {
  inflight_--;
  if (closing_) {
    MaybeFree();
    return;
  }
  if (paused_ && !Saturated()) {
    ProcessInput();
    Flush();
  }
  MaybeShutdown();
}

void Connection::SendDurableEnd(const DurableEnd& end) {
  if (!subscribed_ || closing_) return;
  if (end_sent_ && end.lineage == last_end_.lineage && end.pos <= last_end_.pos) return;
  if (write_in_flight_) {
    // A slow subscriber gets the newest end once it drains, not every step.
    end_pending_ = true;
    return;
  }
  cp::EncodeDurableEnd(&out_, subscribe_id_, end);
  last_end_ = end;
  end_sent_ = true;
}

void Connection::ShutdownWhenFlushed() {
  shutdown_wanted_ = true;
  StopReading();
  Flush();
  MaybeShutdown();
}

void Connection::MaybeShutdown() {
  if (closing_ || shutdown_started_) return;
  if (!shutdown_wanted_ && !(eof_ && inflight_ == 0)) return;
  if (inflight_ > 0 || write_in_flight_ || !out_.empty()) return;
  shutdown_started_ = true;
  int rc = uv_shutdown(&shutdown_req_, stream(), [](uv_shutdown_t* req, int) {
    static_cast<Connection*>(req->data)->Close();
  });
  if (rc != 0) Close();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  StopReading();
  host_->OnConnectionClosing(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    c->handle_closed_ = true;
    TS_LOG_DEBUG("client connection {} closed", c->id_);
    c->MaybeFree();
  });
}

void Connection::MaybeFree() {
  if (!handle_closed_ || inflight_ > 0) return;
  host_->OnConnectionFreed(this);
  delete this;
}

}  // namespace tranship
