#include "logsender/stone_follower.h"

#include <fmt/format.h>
#include <sys/un.h>

#include "base/log.h"
#include "client/protocol.h"
#include "client/unix_socket.h"

namespace tranship::logsender {
namespace cp = client_protocol;

namespace {
constexpr uint32_t kHelloId = 1;
constexpr uint32_t kSubscribeId = 2;

struct WriteReq {
  uv_write_t req;
  std::string buf;
};
}  // namespace

// One connection attempt. Owned by the follower until closed; freed in its close
// callback.
struct StoneFollower::Conn {
  uv_pipe_t pipe;
  uv_connect_t connect_req;
  StoneFollower* owner = nullptr;
  cp::FrameReader reader{cp::kMaxReplyBodySize};
  char read_buf[64 << 10];
  bool connected = false;
};

StoneFollower::StoneFollower(uv_loop_t* loop, std::string stone, std::string socket_path,
                             Callbacks cb)
    : loop_(loop),
      stone_(std::move(stone)),
      socket_path_(std::move(socket_path)),
      cb_(std::move(cb)) {}

StoneFollower::~StoneFollower() { assert(!started_ || (closing_ && open_handles_ == 0)); }

void StoneFollower::Start() {
  started_ = true;
  uv_timer_init(loop_, &retry_timer_);
  retry_timer_.data = this;
  timer_open_ = true;
  open_handles_++;
  Attempt();
}

void StoneFollower::Attempt() {
  if (closing_ || conn_ != nullptr) return;
  sockaddr_un addr;
  Status fits = MakeUnixAddress(socket_path_, &addr);
  if (!fits.ok()) {
    // libuv would silently cut the path and connect elsewhere.
    Fail(fits.message());
    return;
  }
  conn_ = new Conn;
  conn_->owner = this;
  uv_pipe_init(loop_, &conn_->pipe, 0);
  conn_->pipe.data = conn_;
  open_handles_++;
  conn_->connect_req.data = conn_;
  uv_pipe_connect(&conn_->connect_req, &conn_->pipe, socket_path_.c_str(),
                  [](uv_connect_t* req, int status) {
                    auto* c = static_cast<Conn*>(req->data);
                    c->owner->OnConnected(c, status);
                  });
}

void StoneFollower::OnConnected(Conn* c, int status) {
  if (c != conn_) return;  // closed meanwhile
  if (status < 0) {
    Fail(fmt::format("cannot connect to {}: {}", socket_path_, uv_strerror(status)));
    return;
  }
  c->connected = true;
  auto* w = new WriteReq;
  cp::EncodeHello(&w->buf, kHelloId, "logsender");
  cp::EncodeSubscribe(&w->buf, kSubscribeId);
  uv_buf_t buf = uv_buf_init(w->buf.data(), static_cast<unsigned>(w->buf.size()));
  w->req.data = w;
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->pipe), &buf, 1,
                    [](uv_write_t* req, int) { delete static_cast<WriteReq*>(req->data); });
  if (rc != 0) {
    delete w;
    Fail(fmt::format("cannot write to {}: {}", socket_path_, uv_strerror(rc)));
    return;
  }
  rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->pipe),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(conn->read_buf, sizeof(conn->read_buf));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
        auto* conn = static_cast<Conn*>(s->data);
        conn->owner->OnRead(conn, nread);
      });
  if (rc != 0) Fail(fmt::format("cannot read from {}: {}", socket_path_, uv_strerror(rc)));
}

void StoneFollower::OnRead(Conn* c, ssize_t nread) {
  if (c != conn_) return;
  if (nread == UV_EOF) {
    Fail("the stone closed the connection (stopping?)");
    return;
  }
  if (nread < 0) {
    Fail(fmt::format("reading {}: {}", socket_path_, uv_strerror(static_cast<int>(nread))));
    return;
  }
  c->reader.Feed(std::string_view(c->read_buf, static_cast<size_t>(nread)));
  cp::Frame f;
  while (true) {
    cp::FrameReader::Next next = c->reader.Read(&f);
    if (next == cp::FrameReader::Next::kNeedMore) return;
    if (next == cp::FrameReader::Next::kError) {
      Fail("garbage from the stone: " + c->reader.error().message());
      return;
    }
    switch (f.type) {
      case cp::MsgType::kHelloReply: {
        cp::HelloReply reply;
        Status s = cp::DecodeHelloReply(f.body, &reply);
        if (!s.ok()) {
          Fail("the stone refused the hello: " + s.message());
          return;
        }
        if (reply.stone_name != stone_) {
          Fail(fmt::format("{} is the socket of the stone '{}', not '{}'", socket_path_,
                           reply.stone_name, stone_));
          return;
        }
        break;
      }
      case cp::MsgType::kSubscribeReply: {
        Status s = cp::DecodeSubscribeReply(f.body);
        if (!s.ok()) {
          Fail("the stone refused the subscription: " + s.message());
          return;
        }
        break;
      }
      case cp::MsgType::kDurableEnd: {
        DurableEnd end;
        Status s = cp::DecodeDurableEnd(f.body, &end);
        if (!s.ok()) {
          Fail("bad durable-end message from the stone: " + s.message());
          return;
        }
        if (!subscribed_) {
          subscribed_ = true;
          backoff_ms_ = kFirstBackoffMs;
          TS_LOG_INFO("following the stone '{}' on {}: durable end {} (TID {})", stone_,
                      socket_path_, end.pos.ToString(), end.tid);
          outage_logged_ = false;
          if (cb_.on_link) cb_.on_link(true);
        }
        if (cb_.on_end) cb_.on_end(end);
        if (c != conn_) return;  // the callback closed us
        break;
      }
      default:
        Fail(fmt::format("unexpected {} message from the stone", cp::TypeName(f.type)));
        return;
    }
  }
}

void StoneFollower::Fail(const std::string& why) {
  bool was_subscribed = subscribed_;
  subscribed_ = false;
  CloseConn();
  if (closing_) return;
  if (!outage_logged_) {
    // Once per outage: a stopped stone is normal (restarts, maintenance), so the
    // logsender keeps serving what is durable on disk and keeps trying.
    if (was_subscribed) {
      TS_LOG_WARN("lost the stone '{}': {}; shipping what is durable on disk and reconnecting",
                  stone_, why);
    } else {
      TS_LOG_INFO(
          "the stone '{}' is not reachable ({}); shipping what is durable on disk and "
          "retrying",
          stone_, why);
    }
    outage_logged_ = true;
  } else {
    TS_LOG_DEBUG("stone '{}' still not reachable: {}", stone_, why);
  }
  if (was_subscribed && cb_.on_link) cb_.on_link(false);
  if (closing_) return;  // on_link may have started a stop
  reconnects_++;
  uv_timer_start(
      &retry_timer_, [](uv_timer_t* t) { static_cast<StoneFollower*>(t->data)->Attempt(); },
      backoff_ms_, 0);
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

void StoneFollower::CloseConn() {
  if (conn_ == nullptr) return;
  Conn* c = conn_;
  conn_ = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe), [](uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    StoneFollower* self = conn->owner;
    delete conn;
    self->open_handles_--;
    self->MaybeDone();
  });
}

void StoneFollower::Close(std::function<void()> done) {
  on_closed_ = std::move(done);
  closing_ = true;
  subscribed_ = false;
  if (!started_) {
    if (on_closed_) on_closed_();
    return;
  }
  CloseConn();
  if (timer_open_) {
    timer_open_ = false;
    uv_timer_stop(&retry_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), [](uv_handle_t* h) {
      auto* self = static_cast<StoneFollower*>(h->data);
      self->open_handles_--;
      self->MaybeDone();
    });
  }
}

void StoneFollower::MaybeDone() {
  if (closing_ && open_handles_ == 0 && on_closed_) {
    auto done = std::move(on_closed_);
    on_closed_ = nullptr;
    done();
  }
}

}  // namespace tranship::logsender
