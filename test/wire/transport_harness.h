#pragma once
// Helpers for transport tests: a loop that proves every handle closed, an endpoint
// that records what its transport reported, and certificates made by
// certs/make-certs.sh (path in $MAKE_CERTS) once per test binary.

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test/test_util.h"
#include "wire/transport.h"

namespace tranship::wire::test {

// A loop for one test. The destructor runs the loop until every handle closed and
// checks uv_loop_close() == 0.
class Loop {
 public:
  Loop() { REQUIRE(uv_loop_init(&loop_) == 0); }
  ~Loop() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  uv_loop_t* get() { return &loop_; }
  // Runs the loop until `cond` holds or `timeout` passes; returns whether it held. A
  // ticker keeps UV_RUN_ONCE from blocking on long timers.
  bool RunUntil(const std::function<bool()>& cond,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    uv_timer_t tick;
    uv_timer_init(&loop_, &tick);
    uv_timer_start(&tick, [](uv_timer_t*) {}, 5, 5);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = true;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ok = false;
        break;
      }
      uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // runs the close callback: `tick` leaves scope next
    return ok;
  }

 private:
  uv_loop_t loop_;
};

// Owns a transport and records its callbacks.
struct Endpoint {
  std::unique_ptr<Transport> t;
  bool ready = false;
  std::string data;
  int writable = 0;
  int closed_count = 0;
  std::optional<Status> closed;
  bool destroy_on_close = false;
  std::function<void(std::string_view)> on_data_hook;

  void Start() {
    Transport::Callbacks cb;
    cb.on_ready = [this] { ready = true; };
    cb.on_data = [this](std::string_view b) {
      data.append(b);
      if (on_data_hook) on_data_hook(b);
    };
    cb.on_writable = [this] { writable++; };
    cb.on_closed = [this](const Status& s) {
      closed_count++;
      closed = s;
      if (destroy_on_close) t.reset();
    };
    t->Start(std::move(cb));
  }
  std::string reason() const { return closed ? closed->message() : std::string("(open)"); }
};

// The directory with the certificates, made once per test binary.
inline const std::string& CertDir() {
  static ::tranship::test::TempDir dir;
  static std::string path = [] {
    const char* script = std::getenv("MAKE_CERTS");
    REQUIRE_MESSAGE(script != nullptr, "MAKE_CERTS must name certs/make-certs.sh");
    std::string p = dir.path() + "/c";
    std::string cmd = std::string(script) + " " + p + " testhost >/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return p;
  }();
  return path;
}

inline std::string Cert(const std::string& name) { return CertDir() + "/" + name; }

inline TlsOptions Options(const std::string& cert, const std::string& key,
                          const std::string& ca = "ca.pem") {
  TlsOptions o;
  o.enabled = true;
  o.ca_file = ca.empty() ? "" : Cert(ca);
  o.cert_file = cert.empty() ? "" : Cert(cert);
  o.key_file = key.empty() ? "" : Cert(key);
  return o;
}

inline std::shared_ptr<TlsContext> MustCreate(const TlsOptions& o, TlsContext::Role role) {
  auto r = TlsContext::Create(o, role);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r.value();
}

// A listener and a client connected to it. The client writes "HELLO" at once (the
// receiver speaks first, which a plaintext listener waits for).
struct Link {
  explicit Link(Loop& l) : loop(l) {}
  Loop& loop;
  std::string host = "127.0.0.1";
  std::unique_ptr<Listener> listener;
  Endpoint server, client;
  std::vector<Status> refused;  // the listener's on_refused_peer reports
  std::optional<Status> connect_error;

  void Listen(std::shared_ptr<TlsContext> tls, ListenOptions o) {
    o.on_refused_peer = [this](const Status& s) { refused.push_back(s); };
    auto l = Listener::Listen(
        loop.get(), "127.0.0.1", 0, std::move(tls),
        [this](std::unique_ptr<Transport> t) {
          server.t = std::move(t);
          server.Start();
        },
        std::move(o));
    REQUIRE_MESSAGE(l.ok(), l.status().ToString());
    listener = std::move(l).value();
  }
  void ConnectClient(std::shared_ptr<TlsContext> tls, std::string first = "HELLO") {
    Connect(loop.get(), host, listener->port(), std::move(tls),
            [this, first](Result<std::unique_ptr<Transport>> r) {
              if (!r.ok()) {
                connect_error = r.status();
                return;
              }
              client.t = std::move(r).value();
              client.Start();
              if (!first.empty()) client.t->Write(first);
            });
  }
  void Open(std::shared_ptr<TlsContext> server_tls, std::shared_ptr<TlsContext> client_tls,
            ListenOptions o = {}) {
    Listen(std::move(server_tls), std::move(o));
    ConnectClient(std::move(client_tls));
  }
};

}  // namespace tranship::wire::test
