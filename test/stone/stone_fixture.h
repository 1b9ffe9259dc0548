#pragma once
// A real stone in-process for the server tests: an Engine on a temporary repository
// and a StoneServer running its loop on a thread, plus a raw socket for feeding the
// server bytes no well-behaved client would send.

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/clock.h"
#include "client/client.h"
#include "client/protocol.h"
#include "engine/engine.h"
#include "stone/stone.h"
#include "stone/server.h"
#include "test/test_util.h"

namespace tranship::test {

class StoneFixture {
 public:
  // stale_socket: leave a socket file nobody listens on where the server will bind.
  // handle_signals: the server stops on SIGTERM/SIGINT sent to this process.
  explicit StoneFixture(bool stale_socket = false, bool handle_signals = false) {
    if (stale_socket) MakeStaleSocket(socket_path());
    EngineOptions o;
    o.extent_dir = dir_ / "extent";
    o.tranlog_dirs = {dir_ / "tranlog"};
    o.checkpoint_interval_s = 0;
    REQUIRE(Engine::Create(o).ok());
    auto e = Stone::Open(o);
    REQUIRE(e.ok());
    stone_ = std::move(*e);
    StoneServerOptions so;
    so.name = "teststone";
    so.socket_path = socket_path();
    so.handle_signals = handle_signals;
    so.extent_dir = o.extent_dir;
    server_ = std::make_unique<StoneServer>(stone_.get(), so);
    thread_ = std::thread([this] {
      run_status_ = server_->Run([this] { listening_ = true; });
      stopped_ = true;
    });
    bool up = WaitFor([this] { return listening_.load() || stopped_.load(); });
    if (!up || !listening_.load()) {
      server_->RequestStop();
      thread_.join();
      FAIL("stone server did not start: " << run_status_.ToString());
    }
  }

  ~StoneFixture() {
    Stop();
    CHECK(stone_->Close().ok());
  }

  // Stops the server (the engine stays open); idempotent.
  void Stop() {
    if (!thread_.joinable()) return;
    server_->RequestStop();
    thread_.join();
    CHECK(run_status_.ok());
  }

  static void MakeStaleSocket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);  // the file stays; connecting to it is refused
  }

  bool stopped() const { return stopped_.load(); }
  std::string socket_path() const { return dir_ / "stone.sock"; }
  const TempDir& dir() const { return dir_; }
  Engine* engine() { return stone_->engine(); }
  Stone* stone() { return stone_.get(); }

  std::unique_ptr<StoneClient> Connect() {
    auto c = StoneClient::Connect(socket_path(), "teststone", 5000);
    if (!c.ok()) FAIL(c.status().ToString());
    return std::move(*c);
  }

 private:
  TempDir dir_;
  std::unique_ptr<Stone> stone_;
  std::unique_ptr<StoneServer> server_;
  std::thread thread_;
  std::atomic<bool> listening_{false};
  std::atomic<bool> stopped_{false};
  Status run_status_;
};

// A client socket that sends raw bytes and reads raw frames.
class RawConn {
 public:
  explicit RawConn(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~RawConn() { ::close(fd_); }

  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0) return;  // the server may already have closed us
      off += static_cast<size_t>(n);
    }
  }

  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Next whole frame, or false on EOF / error / timeout.
  bool ReadFrame(client_protocol::Frame* f, int timeout_ms = 10000) {
    uint64_t deadline = MonotonicNanos() + uint64_t(timeout_ms) * 1000000;
    for (;;) {
      if (reader_.Read(f) == client_protocol::FrameReader::Next::kFrame) return true;
      if (!WaitReadable(deadline)) return false;
      std::span<char> room = reader_.PrepareWrite(64 << 10);
      ssize_t n = ::recv(fd_, room.data(), room.size(), 0);
      if (n <= 0) return false;
      reader_.CommitWrite(static_cast<size_t>(n));
    }
  }

  // True once the server has closed the connection (EOF or reset) within the timeout.
  bool WaitClosed(int timeout_ms = 10000) {
    uint64_t deadline = MonotonicNanos() + uint64_t(timeout_ms) * 1000000;
    char buf[4096];
    for (;;) {
      if (!WaitReadable(deadline)) return false;
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool WaitReadable(uint64_t deadline) {
    uint64_t now = MonotonicNanos();
    if (now >= deadline) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>((deadline - now) / 1000000) + 1) > 0;
  }

  int fd_ = -1;
  client_protocol::FrameReader reader_{client_protocol::kMaxReplyBodySize};
};

}  // namespace tranship::test
