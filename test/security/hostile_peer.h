#pragma once
// Tools for playing a hostile or curious peer against real daemons over loopback: raw
// connections, a recording TCP tap that relays a link and keeps every byte it saw, a
// fake logsender that says whatever it is told, and a process's resident memory.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "test/shipping/cluster.h"

namespace tranship::test {

inline sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A blocking TCP connection to 127.0.0.1:port, or -1.
inline int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A listening socket on 127.0.0.1 at an ephemeral port; *port receives the port.
inline int ListenLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a = Loopback(0);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(listen(fd, 256) == 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A connection accepted on `lfd` within `timeout` (reads on it time out after as
// long), or -1.
inline int AcceptWithin(int lfd, std::chrono::seconds timeout) {
  pollfd p{lfd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count() * 1000)) <= 0) return -1;
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Whether the peer closed `fd` (read returns 0 or an error) within `timeout`.
inline bool PeerClosed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char b[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (read(fd, b, sizeof(b)) <= 0) return true;
  }
}

// VmRSS of a process in KiB (0 if it is gone).
inline long VmRssKb(pid_t pid) {
  std::string s = ReadAll("/proc/" + std::to_string(pid) + "/status");
  size_t at = s.find("VmRSS:");
  return at == std::string::npos ? 0 : std::stol(s.substr(at + 6));
}

// Relays every connection made to its port to 127.0.0.1:target and records the bytes
// that crossed it in both directions, as a wire tap on the link would see them.
class Tap {
 public:
  explicit Tap(int target) : target_(target) {
    listen_fd_ = ListenLoopback(&port_);
    thread_ = std::thread([this] { Run(); });
  }
  ~Tap() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  std::string Recorded() {
    std::lock_guard<std::mutex> l(mu_);
    return recorded_;
  }
  size_t RecordedBytes() {
    std::lock_guard<std::mutex> l(mu_);
    return recorded_.size();
  }

 private:
  struct Pair {
    int a, b;  // the client's end, the target's end
  };
  void Run() {
    std::vector<Pair> pairs;
    char buf[65536];
    while (!stop_) {
      std::vector<pollfd> p = {{listen_fd_, POLLIN, 0}};
      for (const Pair& x : pairs) {
        p.push_back({x.a, POLLIN, 0});
        p.push_back({x.b, POLLIN, 0});
      }
      if (poll(p.data(), p.size(), 50) <= 0) continue;
      if (p[0].revents & POLLIN) {
        int a = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        int b = a >= 0 ? ConnectLoopback(target_) : -1;
        if (b >= 0) {
          pairs.push_back({a, b});
        } else if (a >= 0) {
          close(a);
        }
      }
      std::vector<Pair> alive;
      for (size_t i = 0; i < pairs.size(); i++) {
        const Pair& x = pairs[i];
        short ra = p.size() > 1 + 2 * i ? p[1 + 2 * i].revents : 0;
        short rb = p.size() > 2 + 2 * i ? p[2 + 2 * i].revents : 0;
        bool open = Pump(ra, x.a, x.b, buf, sizeof(buf)) && Pump(rb, x.b, x.a, buf, sizeof(buf));
        if (open) {
          alive.push_back(x);
        } else {
          close(x.a);
          close(x.b);
        }
      }
      pairs.swap(alive);
    }
    for (const Pair& x : pairs) {
      close(x.a);
      close(x.b);
    }
  }
  // Moves what `from` has to `to`; false once either end is gone.
  bool Pump(short revents, int from, int to, char* buf, size_t size) {
    if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) return true;
    ssize_t n = read(from, buf, size);
    if (n <= 0) return false;
    {
      std::lock_guard<std::mutex> l(mu_);
      recorded_.append(buf, static_cast<size_t>(n));
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }

  int target_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string recorded_;
};

// startlogreceiver in the foreground on `h`, connecting to 127.0.0.1:port, archiving
// into `archive`; the log is log/logreceiver-PORT-STONE.log of that home.
inline pid_t SpawnReceiver(Host& h, int port, const std::string& stone, const std::string& out,
                           std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-P", std::to_string(port), "-A", "127.0.0.1", "-T",
                                   h.Path("archive"), "-s", stone, "--foreground",
                                   "--timeout", "5", "--from-start"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::filesystem::create_directories(h.Path("archive"));
  return h.Spawn(args, out, "startlogreceiver");
}

inline std::string ReceiverLogAt(Host& h, int port, const std::string& stone) {
  return ReadAll(h.Path("log/logreceiver-" + std::to_string(port) + "-" + stone + ".log"));
}

inline bool EventuallyHas(const std::function<std::string()>& text, const std::string& what,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  return WaitFor([&] { return text().find(what) != std::string::npos; }, timeout);
}

// Whether the cluster's logsender listens (its "listening on ADDR:PORT (TLS)" line; the
// first line of its log names the address before it listens).
inline bool SenderListens(Cluster& c) {
  return EventuallyHas([&] { return c.SenderLog(); },
                       "listening on 127.0.0.1:" + std::to_string(c.port()) + " (");
}

// Stops the primary stone, then waits until standby 0's archive holds exactly the
// primary's tranlogs; the receiver's log (and the sender's) explain a failure.
inline void ExpectArchiveConverges(Cluster& c, const std::function<std::string()>& receiver_log) {
  Proc stop = c.primary().Run({"stone", "stop", "prod"});
  REQUIRE_MESSAGE(stop.code == 0, stop.out);
  std::string why;
  bool same = WaitFor(
      [&] {
        return SameTranlogs(c.primary().Path("data/prod/tranlog"), c.standby(0).Path("archive"),
                            &why);
      },
      kConverge);
  INFO(why << "\nreceiver log: " << receiver_log() << "\nsender log: " << c.SenderLog());
  REQUIRE(same);
}

// Stops and reaps a child on scope exit (kill -9: these are test peers).
struct ChildGuard {
  pid_t pid;
  ~ChildGuard() {
    if (pid > 0) Cluster::KillNine(pid);
  }
};

}  // namespace tranship::test
