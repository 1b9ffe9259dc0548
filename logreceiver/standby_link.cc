#include "logreceiver/standby_link.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/log.h"

namespace tranship::logreceiver {
namespace cp = client_protocol;

namespace {
constexpr uint32_t kMinBackoffMs = 100;
constexpr uint32_t kMaxBackoffMs = 5000;
}  // namespace

// One connection attempt and its lifetime; the handle, requests and buffers live here
// and the whole object is freed in the pipe's close callback.
struct StandbyLink::Conn {
  uv_pipe_t pipe;
  uv_connect_t connect_req;
  uv_write_t write_req;
  std::string writing;
  char read_buf[4096];
  cp::FrameReader reader{cp::kMaxReplyBodySize};
  StandbyLink* link = nullptr;
  bool closed = false;
};

StandbyLink::StandbyLink(uv_loop_t* loop, std::string socket_path, std::string stone)
    : loop_(loop), socket_path_(std::move(socket_path)), stone_(std::move(stone)) {}

StandbyLink::~StandbyLink() { assert(!timer_open_ && conn_ == nullptr); }

void StandbyLink::Start() {
  uv_timer_init(loop_, &retry_timer_);
  retry_timer_.data = this;
  timer_open_ = true;
  Connect();
}

void StandbyLink::Connect() {
  if (closing_ || conn_ != nullptr) return;
  conn_ = new Conn;
  conn_->link = this;
  uv_pipe_init(loop_, &conn_->pipe, 0);
  conn_->pipe.data = conn_;
  conn_->connect_req.data = conn_;
  hello_done_ = false;
  write_in_flight_ = false;
  uv_pipe_connect(&conn_->connect_req, &conn_->pipe, socket_path_.c_str(),
                  [](uv_connect_t* req, int status) {
                    auto* c = static_cast<Conn*>(req->data);
                    if (c->closed) return;
                    c->link->OnConnect(status);
                  });
}

void StandbyLink::OnConnect(int status) {
  if (status < 0) {
    Lost(fmt::format("cannot connect to {}: {}", socket_path_, uv_strerror(status)));
    return;
  }
  int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn_->pipe),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(c->read_buf, sizeof(c->read_buf));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(s->data);
        if (c->closed) return;
        c->link->OnRead(nread, buf);
      });
  if (rc != 0) {
    Lost(fmt::format("read from {}: {}", socket_path_, uv_strerror(rc)));
    return;
  }
  conn_->write_req.data = conn_;
  conn_->writing.clear();
  cp::EncodeHello(&conn_->writing, next_id_++, cp::kLogreceiverClientName);
  WriteBuffered();
}

// Sends conn_->writing; when it is out, MaybeSend() sends whatever is due next.
// REQUIRES: no write in flight.
void StandbyLink::WriteBuffered() {
  write_in_flight_ = true;
  uv_buf_t b = uv_buf_init(conn_->writing.data(), static_cast<unsigned>(conn_->writing.size()));
  int rc = uv_write(&conn_->write_req, reinterpret_cast<uv_stream_t*>(&conn_->pipe), &b, 1,
                    [](uv_write_t* req, int st) {
                      auto* c = static_cast<Conn*>(req->data);
                      if (c->closed) return;
                      StandbyLink* self = c->link;
                      self->write_in_flight_ = false;
                      if (st < 0) {
                        self->Lost(fmt::format("write to {}: {}", self->socket_path_,
                                               uv_strerror(st)));
                        return;
                      }
                      self->MaybeSend();
                    });
  if (rc != 0) Lost(fmt::format("write to {}: {}", socket_path_, uv_strerror(rc)));
}

void StandbyLink::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    Lost(nread == UV_EOF ? "the stone closed the connection" : uv_strerror(static_cast<int>(nread)));
    return;
  }
  conn_->reader.Feed(std::string_view(buf->base, static_cast<size_t>(nread)));
  cp::Frame f;
  for (;;) {
    cp::FrameReader::Next r = conn_->reader.Read(&f);
    if (r == cp::FrameReader::Next::kNeedMore) break;
    if (r == cp::FrameReader::Next::kError) {
      Lost("garbage from the stone: " + conn_->reader.error().message());
      return;
    }
    if (f.type == cp::MsgType::kHelloReply) {
      cp::HelloReply h;
      Status s = cp::DecodeHelloReply(f.body, &h);
      if (!s.ok()) {
        Lost(s.message());
        return;
      }
      hello_done_ = true;
      backoff_ms_ = kMinBackoffMs;
      down_logged_ = false;
      TS_LOG_INFO("connected to the standby stone '{}' ({}): it will be told of new "
                  "archive records", stone_, socket_path_);
    } else if (f.type == cp::MsgType::kInfoReply) {
      StoneInfo info;
      Status s = cp::DecodeInfoReply(f.body, &info);
      if (!s.ok()) TS_LOG_WARN("the standby stone '{}' answered info: {}", stone_, s.message());
      info_in_flight_ = false;
      AnswerInfo(s.ok() ? std::optional<StoneInfo>(info) : std::nullopt);
      if (conn_ == nullptr) return;  // a waiter closed the link
    } else if (f.type == cp::MsgType::kArchiveNotifyReply) {
      Status s = cp::DecodeArchiveNotifyReply(f.body);
      if (!s.ok()) TS_LOG_WARN("the standby stone '{}' answered: {}", stone_, s.message());
      acked_++;
    }
  }
  MaybeSend();
}

void StandbyLink::Notify(const DurableEnd& end) {
  if (have_latest_ && end == latest_) return;  // written, then durable: one wake-up
  latest_ = end;
  have_latest_ = true;
  latest_sent_ = false;
  MaybeSend();
}

void StandbyLink::AskInfo(std::function<void(std::optional<StoneInfo>)> done) {
  // Down (between attempts) or closing: say so now rather than after a backoff.
  if (closing_ || conn_ == nullptr) {
    done(std::nullopt);
    return;
  }
  info_waiters_.push_back(std::move(done));
  if (!info_in_flight_) info_wanted_ = true;
  MaybeSend();
}

void StandbyLink::AnswerInfo(const std::optional<StoneInfo>& info) {
  std::vector<std::function<void(std::optional<StoneInfo>)>> waiters;
  waiters.swap(info_waiters_);
  for (auto& w : waiters) w(info);
}

void StandbyLink::MaybeSend() {
  if (conn_ == nullptr || !hello_done_ || write_in_flight_) return;
  bool send_info = info_wanted_;
  if (!send_info && (!have_latest_ || latest_sent_)) return;
  conn_->writing.clear();
  if (send_info) {
    cp::EncodeInfo(&conn_->writing, next_id_++);
    info_wanted_ = false;
    info_in_flight_ = true;
  } else {
    cp::EncodeArchiveNotify(&conn_->writing, next_id_++, latest_);
    latest_sent_ = true;
  }
  WriteBuffered();
}

void StandbyLink::Lost(const std::string& why) {
  bool was_up = hello_done_;
  if (conn_ != nullptr) {
    Conn* c = conn_;
    conn_ = nullptr;
    c->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }
  hello_done_ = false;
  write_in_flight_ = false;
  latest_sent_ = !have_latest_;  // resend the newest end on the next connection
  info_wanted_ = info_in_flight_ = false;
  AnswerInfo(std::nullopt);
  if (closing_) return;
  if (was_up) {
    TS_LOG_WARN("lost the standby stone '{}': {}; reconnecting", stone_, why);
  } else if (!down_logged_) {
    TS_LOG_INFO("the standby stone '{}' is not reachable ({}); the archive is kept up to date "
                "and the stone will be told when it runs", stone_, why);
    down_logged_ = true;
  }
  ScheduleRetry();
}

void StandbyLink::ScheduleRetry() {
  if (closing_ || !timer_open_) return;
  uint32_t ms = backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
  uv_timer_start(&retry_timer_, [](uv_timer_t* t) {
    static_cast<StandbyLink*>(t->data)->Connect();
  }, ms, 0);
}

void StandbyLink::Close() {
  if (closing_) return;
  closing_ = true;
  Lost("closing");
  if (timer_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), [](uv_handle_t* h) {
      static_cast<StandbyLink*>(h->data)->timer_open_ = false;
    });
  }
}

}  // namespace tranship::logreceiver
