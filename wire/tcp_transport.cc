// The TCP Transport (a thin handle on a TcpConn) and Connect().

#include <fmt/format.h>

#include "wire/tcp_conn.h"

namespace tranship::wire {
namespace {

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(TcpConn* c) : c_(c) { c_->Attach(); }
  ~TcpTransport() override { c_->Detach(); }
  void Start(Callbacks cb) override { c_->Start(std::move(cb)); }
  bool Write(SharedBuffer data) override { return c_->Write(std::move(data)); }
  size_t QueuedBytes() const override { return c_->QueuedBytes(); }
  void PauseReading() override { c_->PauseReading(); }
  void ResumeReading() override { c_->ResumeReading(); }
  void Close(const Status& reason) override { c_->Close(reason); }
  std::string PeerName() const override { return c_->PeerName(); }
  bool IsTls() const override { return c_->IsTls(); }

 private:
  TcpConn* c_;
};

// One Connect() call: resolve, then try each address in turn.
struct ConnectOp {
  uv_loop_t* loop;
  std::string host;
  int port;
  std::shared_ptr<TlsContext> tls;
  std::function<void(Result<std::unique_ptr<Transport>>)> done;
  uv_getaddrinfo_t gai{};
  uv_connect_t connect{};
  addrinfo* results = nullptr;
  addrinfo* next = nullptr;
  TcpConn* conn = nullptr;
  bool timed_out = false;
  std::string last_error = "no address";

  void Finish(Result<std::unique_ptr<Transport>> r) {
    auto cb = std::move(done);
    if (results != nullptr) uv_freeaddrinfo(results);
    delete this;
    cb(std::move(r));
  }
  void TryNext();
  void OnConnect(int status);
};

void ConnectOp::TryNext() {
  while (next != nullptr) {
    addrinfo* ai = next;
    conn = TcpConn::New(loop, TcpConn::Side::kConnecting, tls);
    timed_out = false;
    conn->StartConnectTimer(kHandshakeTimeoutMs, [this] {
      timed_out = true;
      conn->Abort();  // the connect callback follows with UV_ECANCELED
    });
    connect.data = this;
    int r = uv_tcp_connect(&connect, conn->tcp(), ai->ai_addr, [](uv_connect_t* req, int status) {
      static_cast<ConnectOp*>(req->data)->OnConnect(status);
    });
    if (r == 0) return;
    last_error = uv_strerror(r);
    conn->Abort();
    conn = nullptr;
    next = ai->ai_next;
  }
  Finish(Status::IOError(fmt::format("cannot connect to {}:{}: {} (is the logsender running and "
                                     "listening there?)",
                                     host, port, last_error)));
}

void ConnectOp::OnConnect(int status) {
  conn->StopTimer();
  if (status < 0) {
    last_error = timed_out ? fmt::format("no answer within {} ms", kHandshakeTimeoutMs)
                           : std::string(uv_strerror(status));
    conn->Abort();
    conn = nullptr;
    next = next->ai_next;
    TryNext();
    return;
  }
  Status st = conn->BeginConnected(host);
  if (!st.ok()) {
    conn->Abort();
    Finish(st);
    return;
  }
  Finish(std::unique_ptr<Transport>(new TcpTransport(conn)));
}

}  // namespace

std::unique_ptr<Transport> MakeTcpTransport(TcpConn* conn) {
  return std::unique_ptr<Transport>(new TcpTransport(conn));
}

void Connect(uv_loop_t* loop, const std::string& host, int port, std::shared_ptr<TlsContext> tls,
             std::function<void(Result<std::unique_ptr<Transport>>)> done) {
  auto* op = new ConnectOp{loop, host, port, std::move(tls), std::move(done)};
  op->gai.data = op;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  std::string service = std::to_string(port);
  int r = uv_getaddrinfo(
      loop, &op->gai,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* op = static_cast<ConnectOp*>(req->data);
        if (status < 0) {
          op->Finish(Status::IOError(fmt::format("cannot resolve the host name '{}': {}", op->host,
                                                 uv_strerror(status))));
          return;
        }
        op->results = op->next = res;
        op->TryNext();
      },
      host.c_str(), service.c_str(), &hints);
  if (r != 0) {
    // The request never started (bad arguments, no memory): its callback will not run.
    op->Finish(Status::IOError(
        fmt::format("cannot resolve the host name '{}': {}", host, uv_strerror(r))));
  }
}

}  // namespace tranship::wire
