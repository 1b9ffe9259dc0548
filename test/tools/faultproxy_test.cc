// faultproxy as a real process between two loopback sockets of the test: bytes pass
// unchanged, and each fault does what docs/faultproxy.md says (cut within the range,
// flipped bits counted and logged, one direction discarded, stall and resume, vanish
// without a FIN to either peer, cut).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "test/test_util.h"
#include "test/tools/faultproxy_process.h"

namespace tranship::test {
namespace {

int ListenLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(listen(fd, 8) == 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 ? fd : (close(fd), -1);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(r());
  return s;
}

void WriteFully(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

// Reads until EOF or an error (or `max` bytes); the bytes read.
std::string ReadToEnd(int fd, size_t max = SIZE_MAX) {
  std::string s;
  char buf[65536];
  while (s.size() < max) {
    ssize_t n = read(fd, buf, std::min(sizeof(buf), max - s.size()));
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// Whether `fd` becomes readable (data or EOF) within `ms`.
bool ReadableWithin(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1;
}

// A faultproxy child in front of the test's listening socket, its files in a temp dir.
struct ProxyDir {
  TempDir dir;
};
class Proxy : private ProxyDir, public FaultProxyProcess {
 public:
  explicit Proxy(int target_port, uint64_t seed = 7)
      : FaultProxyProcess(target_port, dir / "ctl", dir / "proxy.log", seed) {}
};

// A client connected through the proxy and the server end the proxy connected to.
struct Link {
  int client = -1, server = -1;
  Link(int listen_fd, Proxy& p) {
    client = Connect(p.port());
    REQUIRE(client >= 0);
    server = accept(listen_fd, nullptr, nullptr);
    REQUIRE(server >= 0);
  }
  ~Link() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
};

}  // namespace

TEST_CASE("BytesPassUnchangedBothWaysWithDelayAndJitter") {
  int port = 0;
  int lfd = ListenLoopback(&port);
  Proxy p(port);
  CHECK(p.Ctl("delay 2 3").starts_with("ok faults delay 2+3 ms"));
  Link l(lfd, p);
  const std::string up = RandomBytes(3 << 20, 1), down = RandomBytes(2 << 20, 2);
  std::thread server([&] {
    std::string got = ReadToEnd(l.server, up.size());
    WriteFully(l.server, down);
    shutdown(l.server, SHUT_WR);
    CHECK(got == up);
  });
  WriteFully(l.client, up);
  shutdown(l.client, SHUT_WR);
  CHECK(ReadToEnd(l.client) == down);
  server.join();
  CHECK(p.Counter("flips") == 0);
  CHECK(p.Counter("bytes c2s") == up.size());
  close(lfd);
}

TEST_CASE("DropAfterCutsTheConnectionWithinTheRange") {
  int port = 0;
  int lfd = ListenLoopback(&port);
  Proxy p(port);
  REQUIRE(p.Ctl("drop-after 1000-5000").starts_with("ok"));
  Link l(lfd, p);
  const std::string up = RandomBytes(1 << 20, 3);
  std::thread client([&] { WriteFully(l.client, up); });
  std::string got = ReadToEnd(l.server);
  client.join();
  CHECK(p.Counter("drops") == 1);
  // The cut point is logged; the server got at most that much (an RST may lose the
  // rest), all of it the client's bytes in order.
  std::string log = p.log();
  size_t at = log.find("drop after ");
  REQUIRE(at != std::string::npos);
  uint64_t cut = std::strtoull(log.c_str() + at + 11, nullptr, 10);
  CHECK(cut >= 1000);
  CHECK(cut <= 5000);
  CHECK(got.size() <= cut);
  CHECK(got == up.substr(0, got.size()));
  close(lfd);
}

TEST_CASE("FlippedBitsAreCountedAndLogged") {
  int port = 0;
  int lfd = ListenLoopback(&port);
  Proxy p(port);
  REQUIRE(p.Ctl("flip 1e-4").starts_with("ok"));
  Link l(lfd, p);
  const std::string up = RandomBytes(1 << 20, 4);
  std::thread client([&] {
    WriteFully(l.client, up);
    shutdown(l.client, SHUT_WR);
  });
  std::string got = ReadToEnd(l.server);
  client.join();
  REQUIRE(got.size() == up.size());
  uint64_t bits = 0;
  for (size_t i = 0; i < up.size(); i++) bits += static_cast<uint64_t>(__builtin_popcount(static_cast<unsigned char>(up[i] ^ got[i])));
  CHECK(bits > 0);
  CHECK(bits == p.Counter("flips"));
  CHECK(p.log().find("c2s: flipped bit") != std::string::npos);
  close(lfd);
}

TEST_CASE("OnewayDiscardsOnlyThatDirection") {
  int port = 0;
  int lfd = ListenLoopback(&port);
  Proxy p(port);
  REQUIRE(p.Ctl("oneway c2s").starts_with("ok"));
  Link l(lfd, p);
  WriteFully(l.client, "acks that never arrive");
  WriteFully(l.server, "data");
  CHECK(ReadToEnd(l.client, 4) == "data");
  shutdown(l.client, SHUT_WR);
  // The server sees the client's EOF, and nothing before it.
  CHECK(ReadToEnd(l.server).empty());
  close(lfd);
}

TEST_CASE("StallHoldsTheBytesAndResumeDeliversThem") {
  int port = 0;
  int lfd = ListenLoopback(&port);
  Proxy p(port);
  Link l(lfd, p);
  REQUIRE(p.Ctl("stall").starts_with("ok faults stall"));
  WriteFully(l.client, "held");
  CHECK(!ReadableWithin(l.server, 200));
  REQUIRE(p.Ctl("resume").starts_with("ok"));
  CHECK(ReadableWithin(l.server, 10000));
  CHECK(ReadToEnd(l.server, 4) == "held");
  close(lfd);
}

TEST_CASE("VanishTellsNeitherPeerAndCutCloses") {
  int port = 0;
  int lfd = ListenLoopback(&port);
  Proxy p(port);
  Link l(lfd, p);
  WriteFully(l.client, "x");
  REQUIRE(ReadToEnd(l.server, 1) == "x");
  REQUIRE(p.Ctl("vanish").starts_with("ok"));
  CHECK(p.Counter("vanishes") == 1);
  // The server closes: the client never hears of it, and its bytes go nowhere.
  close(l.server);
  l.server = -1;
  WriteFully(l.client, "into the void");
  CHECK(!ReadableWithin(l.client, 300));
  // A new connection is forwarded as usual.
  {
    Link fresh(lfd, p);
    WriteFully(fresh.client, "y");
    CHECK(ReadToEnd(fresh.server, 1) == "y");
  }
  REQUIRE(p.Ctl("cut").starts_with("ok"));
  CHECK(ReadableWithin(l.client, 10000));
  CHECK(ReadToEnd(l.client).empty());
  CHECK(p.Ctl("explode").starts_with("error: unknown command"));
  close(lfd);
}

}  // namespace tranship::test
