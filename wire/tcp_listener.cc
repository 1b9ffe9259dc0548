// Listener::Listen: accepts TCP connections and hands each over once it is a protocol
// peer (TLS handshake done, or a plaintext peer's first bytes seen).

#include <fmt/format.h>

#include <cstdint>
#include <map>

#include "base/log.h"
#include "wire/tcp_conn.h"

namespace tranship::wire {
namespace {

class TcpListener final : public Listener {
 public:
  TcpListener(uv_loop_t* loop, std::shared_ptr<TlsContext> tls,
              std::function<void(std::unique_ptr<Transport>)> on_accept, ListenOptions options)
      : loop_(loop), tls_(std::move(tls)), on_accept_(std::move(on_accept)),
        options_(std::move(options)), sock_(new Sock) {
    uv_tcp_init(loop_, &sock_->tcp);
    sock_->tcp.data = this;
  }
  ~TcpListener() override { Close(); }

  Status Bind(const std::string& addr, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    uv_getaddrinfo_t req;
    std::string service = std::to_string(port);
    // No callback: libuv resolves synchronously, once, at startup.
    int r = uv_getaddrinfo(loop_, &req, nullptr, addr.c_str(), service.c_str(), &hints);
    if (r != 0) {
      return Status::InvalidArgument(
          fmt::format("cannot listen on '{}': {} (-A wants an address of this host)", addr,
                      uv_strerror(r)));
    }
    r = uv_tcp_bind(&sock_->tcp, req.addrinfo->ai_addr, 0);
    uv_freeaddrinfo(req.addrinfo);
    if (r == 0) {
      r = uv_listen(reinterpret_cast<uv_stream_t*>(&sock_->tcp), 64,
                    [](uv_stream_t* s, int status) {
                      static_cast<TcpListener*>(s->data)->OnConnection(status);
                    });
    }
    if (r != 0) {
      return Status::IOError(fmt::format("cannot listen on {}:{}: {}{}", addr, port,
                                         uv_strerror(r),
                                         r == UV_EADDRINUSE
                                             ? " (is another logsender using this port? choose "
                                               "another with -P)"
                                             : ""));
    }
    return Status::OK();
  }

  int port() const override {
    if (sock_ == nullptr) return 0;
    sockaddr_storage ss{};
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&sock_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }

  void Close() override {
    if (sock_ == nullptr) return;
    sock_->tcp.data = sock_;
    uv_close(reinterpret_cast<uv_handle_t*>(&sock_->tcp),
             [](uv_handle_t* h) { delete static_cast<Sock*>(h->data); });
    sock_ = nullptr;
    // Connections not handed over yet go with the listener.
    std::map<uint64_t, TcpConn*> pending;
    pending.swap(pending_);
    for (auto& [seq, c] : pending) {
      c->DetachListener();
      c->Abort();
    }
  }

 private:
  // The listening handle outlives the TcpListener until its close callback.
  struct Sock {
    uv_tcp_t tcp;
  };

  void OnConnection(int status) {
    if (status < 0) {
      TS_LOG_WARN("accepting a connection failed: {}", uv_strerror(status));
      return;
    }
    TcpConn* c = TcpConn::New(loop_, TcpConn::Side::kAccepted, tls_);
    if (uv_accept(reinterpret_cast<uv_stream_t*>(&sock_->tcp),
                  reinterpret_cast<uv_stream_t*>(c->tcp())) != 0) {
      c->Abort();
      return;
    }
    if (pending_.size() >= options_.max_pending) DropOldestPending();
    uint64_t seq = next_seq_++;
    pending_[seq] = c;
    TcpConn::AcceptHooks hooks;
    hooks.on_ready = [this, seq](TcpConn* c) {
      pending_.erase(seq);
      on_accept_(MakeTcpTransport(c));  // may destroy this listener: nothing after it
    };
    hooks.on_refused = [this, seq](TcpConn*, const Status& why) {
      pending_.erase(seq);
      Refused(why);
    };
    c->BeginAccepted(std::move(hooks), options_.handshake_timeout_ms);
  }

  void DropOldestPending() {
    auto oldest = pending_.begin();
    TcpConn* c = oldest->second;
    pending_.erase(oldest);
    Refused(Status::Aborted(fmt::format(
        "the peer at {} was dropped before its handshake ended: {} connections were in their "
        "handshake, the oldest goes",
        c->PeerName(), options_.max_pending)));
    c->DetachListener();
    c->Abort();
  }

  void Refused(const Status& why) {
    if (options_.on_refused_peer) {
      options_.on_refused_peer(why);
    } else {
      TS_LOG_WARN("{}", why.message());
    }
  }

  uv_loop_t* loop_;
  std::shared_ptr<TlsContext> tls_;
  std::function<void(std::unique_ptr<Transport>)> on_accept_;
  ListenOptions options_;
  Sock* sock_;
  std::map<uint64_t, TcpConn*> pending_;  // by accept order: the first is the oldest
  uint64_t next_seq_ = 0;
};

}  // namespace

Result<std::unique_ptr<Listener>> Listener::Listen(
    uv_loop_t* loop, const std::string& addr, int port, std::shared_ptr<TlsContext> tls,
    std::function<void(std::unique_ptr<Transport>)> on_accept, ListenOptions options) {
  auto l = std::make_unique<TcpListener>(loop, std::move(tls), std::move(on_accept),
                                         std::move(options));
  TRANSHIP_RETURN_IF_ERROR(l->Bind(addr, port));
  return std::unique_ptr<Listener>(std::move(l));
}

}  // namespace tranship::wire
