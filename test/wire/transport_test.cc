// TCP transports over 127.0.0.1, plaintext and TLS: data both ways (several MiB, with
// back-pressure), Close() semantics, connect failures, and silent peers dropped after
// the handshake timeout. Every test ends with every handle closed.

#include <doctest/doctest.h>

#include "test/wire/transport_harness.h"
#include "wire/protocol.h"

namespace tranship::wire::test {
namespace {

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(seed + i * 131 + (i >> 12));
  return s;
}

// Both ways: small writes, then a multi-MiB SharedBuffer from the server (above the
// high-water mark, so Write() says wait and on_writable follows), then one from the
// client.
void ExchangeBothWays(Link& link) {
  REQUIRE(link.loop.RunUntil([&] { return link.server.ready && link.client.ready; }));
  std::string big = Pattern(9 << 20, 'a');
  auto shared = std::make_shared<const std::string>(big);
  CHECK_FALSE(link.server.t->Write(shared));  // 9 MiB > kWriteHighWater
  CHECK(link.server.t->QueuedBytes() >= kWriteHighWater);
  std::string up = Pattern(3 << 20, 'z');
  link.client.t->Write(up);
  REQUIRE(link.loop.RunUntil([&] {
    return link.client.data.size() >= big.size() && link.server.data.size() >= 5 + up.size();
  }));
  CHECK(link.client.data == big);
  CHECK(link.server.data == "HELLO" + up);
  CHECK(link.server.writable >= 1);
  REQUIRE(link.loop.RunUntil([&] { return link.server.t->QueuedBytes() == 0; }));
  CHECK(shared.use_count() == 1);  // the transport let go of it
  CHECK(link.client.closed_count == 0);
  CHECK(link.server.closed_count == 0);
}

TEST_CASE("PlaintextExchangesDataBothWays") {
  Loop loop;
  Link link(loop);
  link.Open(nullptr, nullptr);
  ExchangeBothWays(link);
  CHECK_FALSE(link.server.t->IsTls());
  CHECK(link.server.t->PeerName().starts_with("127.0.0.1:"));
  CHECK(link.refused.empty());
}

TEST_CASE("TlsWithMutualAuthenticationExchangesDataBothWays") {
  Loop loop;
  Link link(loop);
  link.Open(MustCreate(Options("server.pem", "server.key"), TlsContext::Role::kServer),
            MustCreate(Options("client.pem", "client.key"), TlsContext::Role::kClient));
  ExchangeBothWays(link);
  CHECK(link.server.t->IsTls());
  CHECK(link.client.t->IsTls());
  CHECK(link.server.t->PeerName().ends_with(", CN=testhost"));
  CHECK(link.client.t->PeerName().ends_with(", CN=testhost"));
  CHECK(link.refused.empty());
}

TEST_CASE("TlsByHostName") {
  // "localhost" may resolve to ::1 first; the listener is on 127.0.0.1 only, so this
  // also proves that Connect tries every address. The certificate names localhost.
  Loop loop;
  Link link(loop);
  link.host = "localhost";
  link.Open(MustCreate(Options("server.pem", "server.key"), TlsContext::Role::kServer),
            MustCreate(Options("client.pem", "client.key"), TlsContext::Role::kClient));
  REQUIRE(loop.RunUntil([&] { return link.server.data == "HELLO"; }));
}

TEST_CASE("CloseSendsWhatIsQueuedThenClosesBothEnds") {
  for (bool tls : {false, true}) {
    CAPTURE(tls);
    Loop loop;
    Link link(loop);
    if (tls) {
      link.Open(MustCreate(Options("server.pem", "server.key"), TlsContext::Role::kServer),
                MustCreate(Options("client.pem", "client.key"), TlsContext::Role::kClient));
    } else {
      link.Open(nullptr, nullptr);
    }
    REQUIRE(loop.RunUntil([&] { return link.server.ready; }));
    std::string last = Pattern(2 << 20, 'q');
    link.server.t->Write(last);
    link.server.t->Close(Status::Aborted("the logsender is stopping"));
    CHECK(link.server.closed_count == 0);  // never inside Close()
    link.client.destroy_on_close = true;   // the transport may go inside on_closed
    REQUIRE(loop.RunUntil([&] { return link.server.closed && link.client.closed; }));
    CHECK(link.client.data == last);
    CHECK(link.server.reason() == "the logsender is stopping");
    CHECK(link.client.reason().find("closed the connection") != std::string::npos);
    CHECK(link.client.t == nullptr);
    link.server.t->Write(std::string("dropped"));  // after close: ignored
    CHECK(link.server.closed_count == 1);
    CHECK(link.client.closed_count == 1);
  }
}

TEST_CASE("TransportDestroyedWhileOpenClosesTheConnection") {
  Loop loop;
  Link link(loop);
  link.Open(nullptr, nullptr);
  REQUIRE(loop.RunUntil([&] { return link.server.ready; }));
  link.server.t.reset();
  REQUIRE(loop.RunUntil([&] { return link.client.closed.has_value(); }));
  CHECK(link.client.closed_count == 1);
}

TEST_CASE("PausedReaderHoldsTheWriterAtTheHighWaterMark") {
  Loop loop;
  Link link(loop);
  link.Open(nullptr, nullptr);
  REQUIRE(loop.RunUntil([&] { return link.server.ready && link.client.ready; }));
  link.client.t->PauseReading();
  auto chunk = std::make_shared<const std::string>(1 << 20, 'x');
  // Fill the queue and the kernel's socket buffers (loopback ones grow to several MiB)
  // until the writer stays stuck above the low-water mark.
  int before = 0;
  bool stuck = false;
  for (int round = 0; round < 100 && !stuck; round++) {
    while (link.server.t->Write(chunk)) {
    }
    before = link.server.writable;
    loop.RunUntil([] { return false; }, std::chrono::milliseconds(100));
    stuck = link.server.writable == before;
  }
  REQUIRE(stuck);
  CHECK(link.server.t->QueuedBytes() > kWriteLowWater);
  link.client.t->ResumeReading();
  REQUIRE(loop.RunUntil([&] { return link.server.writable == before + 1; }));
  CHECK(link.server.t->QueuedBytes() <= kWriteLowWater);
}

TEST_CASE("ConnectToAClosedPortFailsWithOneLine") {
  Loop loop;
  // Find a free port: listen, note the port, close.
  int port = 0;
  {
    auto l = Listener::Listen(loop.get(), "127.0.0.1", 0, nullptr, [](auto) {});
    REQUIRE(l.ok());
    port = l.value()->port();
  }
  std::optional<Status> err;
  Connect(loop.get(), "127.0.0.1", port, nullptr, [&](Result<std::unique_ptr<Transport>> r) {
    REQUIRE_FALSE(r.ok());
    err = r.status();
  });
  REQUIRE(loop.RunUntil([&] { return err.has_value(); }));
  CHECK(err->message().find("cannot connect to 127.0.0.1:") != std::string::npos);
  CHECK(err->message().find("refused") != std::string::npos);
}

TEST_CASE("ListeningOnABusyPortSaysSo") {
  Loop loop;
  auto a = Listener::Listen(loop.get(), "127.0.0.1", 0, nullptr, [](auto) {});
  REQUIRE(a.ok());
  auto b = Listener::Listen(loop.get(), "127.0.0.1", a.value()->port(), nullptr, [](auto) {});
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message().find("address already in use") != std::string::npos);
}

// A raw TCP client that connects and says nothing.
struct SilentPeer {
  uv_tcp_t tcp;
  uv_connect_t req;
  bool connected = false;
  bool eof = false;
  char buf[256];
  void Connect(uv_loop_t* loop, int port) {
    uv_tcp_init(loop, &tcp);
    tcp.data = this;
    req.data = this;
    sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_connect(&req, &tcp, reinterpret_cast<sockaddr*>(&a), [](uv_connect_t* r, int st) {
      auto* p = static_cast<SilentPeer*>(r->data);
      p->connected = st == 0;
      uv_read_start(
          reinterpret_cast<uv_stream_t*>(&p->tcp),
          [](uv_handle_t* h, size_t, uv_buf_t* b) {
            auto* p = static_cast<SilentPeer*>(h->data);
            *b = uv_buf_init(p->buf, sizeof(p->buf));
          },
          [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
            if (n < 0) static_cast<SilentPeer*>(s->data)->eof = true;
          });
    });
  }
  void Close() { uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr); }
};

TEST_CASE("SilentPeerIsDroppedAfterTheHandshakeTimeout") {
  for (bool tls : {false, true}) {
    CAPTURE(tls);
    Loop loop;
    Link link(loop);
    ListenOptions o;
    o.handshake_timeout_ms = 300;
    link.Listen(tls ? MustCreate(Options("server.pem", "server.key"), TlsContext::Role::kServer)
                    : nullptr,
                o);
    SilentPeer peer;
    peer.Connect(loop.get(), link.listener->port());
    auto start = std::chrono::steady_clock::now();
    REQUIRE(loop.RunUntil([&] { return peer.eof && !link.refused.empty(); },
                          std::chrono::seconds(3)));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::milliseconds(1500));
    CHECK(link.server.t == nullptr);  // never handed over
    CHECK(link.refused[0].message().find(tls ? "did not complete the TLS handshake"
                                             : "sent nothing") != std::string::npos);
    CHECK(link.refused[0].message().find("within 300 ms") != std::string::npos);
    peer.Close();
  }
}

TEST_CASE("ListenerClosedWithConnectionsPendingClosesThem") {
  Loop loop;
  Link link(loop);
  link.Listen(MustCreate(Options("server.pem", "server.key"), TlsContext::Role::kServer), {});
  SilentPeer peer;
  peer.Connect(loop.get(), link.listener->port());
  REQUIRE(loop.RunUntil([&] { return peer.connected; }));
  loop.RunUntil([] { return false; }, std::chrono::milliseconds(50));  // accepted
  link.listener->Close();
  REQUIRE(loop.RunUntil([&] { return peer.eof; }, std::chrono::seconds(3)));
  peer.Close();
}

TEST_CASE("BeyondMaxPendingTheOldestHandshakeIsDroppedForTheNewest") {
  Loop loop;
  Link link(loop);
  ListenOptions o;
  o.max_pending = 2;
  link.Listen(MustCreate(Options("server.pem", "server.key"), TlsContext::Role::kServer), o);
  SilentPeer peers[3];
  for (SilentPeer& p : peers) {
    p.Connect(loop.get(), link.listener->port());
    REQUIRE(loop.RunUntil([&] { return p.connected; }));
  }
  REQUIRE(loop.RunUntil([&] { return peers[0].eof; }, std::chrono::seconds(3)));
  CHECK(!peers[1].eof);
  CHECK(!peers[2].eof);
  REQUIRE(link.refused.size() == 1);
  CHECK(link.refused[0].message().find("2 connections were in their handshake, the oldest goes") !=
        std::string::npos);
  for (SilentPeer& p : peers) p.Close();
}

}  // namespace
}  // namespace tranship::wire::test
