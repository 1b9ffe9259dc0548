// faultproxy: a TCP proxy on loopback that injects network faults, for the network-fault
// trials (test/chaos/) and for operators rehearsing a bad link (docs/faultproxy.md).
//
//   faultproxy --listen PORT --target HOST:PORT [--control PATH] [--seed N]
//              [--fault 'COMMAND']...
//   faultproxy --ctl PATH COMMAND...      (send one control command, print the reply)
//
// Each connection accepted on 127.0.0.1:PORT is forwarded to HOST:PORT. "c2s" is the
// direction from the connecting peer (client) to the target (server), "s2c" the other.
// Faults (test/tools/fault_plan.h) change at any time through one-line commands on the
// Unix socket PATH; every fault injected is logged on stderr with its connection.
// Random choices (jitter, cut points, flipped bits) come from one generator seeded by
// --seed, printed at start, so a run can be replayed.
//
// One thread, plain poll(2). Per direction at most kMaxQueued bytes are held, so memory
// stays bounded whatever the peers send. SIGTERM/SIGINT exit; the sockets close with it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "test/tools/fault_plan.h"

namespace tranship::faultproxy {
namespace {

constexpr size_t kMaxQueued = 1 << 20;  // per direction: one socket read ahead of a slow peer
constexpr size_t kReadSize = 64 << 10;

volatile sig_atomic_t g_stop = 0;

uint64_t NowUs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

double g_start_s = static_cast<double>(NowUs()) / 1e6;

template <typename... A>
void Log(fmt::format_string<A...> f, A&&... a) {
  std::string line = fmt::format("faultproxy {:9.3f} ", static_cast<double>(NowUs()) / 1e6 - g_start_s) +
                     fmt::format(f, std::forward<A>(a)...) + "\n";
  (void)!write(2, line.data(), line.size());
}

struct Chunk {
  std::string bytes;
  size_t off = 0;
  uint64_t due_us = 0;
};

// One direction of a connection: bytes read from fd[from] wait here until due, then
// go to fd[1 - from].
struct Pipe {
  int from = 0;
  const char* name = "";
  std::deque<Chunk> queue;
  size_t queued = 0;
  bool eof = false;   // the source said EOF
  bool shut = false;  // we passed the EOF on (shutdown SHUT_WR)
  bool want_out = false;
  double tokens = 0;
  uint64_t tokens_us = 0;
  uint64_t last_due_us = 0;
  uint64_t flip_in = 0;       // bytes until the next flipped one
  double flip_drawn_p = -1;   // the probability flip_in was drawn for
  uint64_t offset = 0;        // bytes read so far in this direction
  uint64_t discarded = 0;
};

struct Conn {
  uint64_t id = 0;
  int fd[2] = {-1, -1};  // client, server
  Pipe pipe[2];          // c2s (from client), s2c (from server)
  bool vanished = false;
  bool gone[2] = {false, false};  // vanished: that side's peer has closed or reset
  bool failed = false;            // a read or write failed (a peer reset): close with RST
  uint64_t forwarded = 0;  // both directions
  uint64_t drop_at = 0;    // 0: no cut point
};

class Proxy {
 public:
  Proxy(uint64_t seed, sockaddr_storage target, socklen_t target_len)
      : rng_(seed), target_(target), target_len_(target_len) {}

  bool Listen(int port, const std::string& control);
  Status Apply(const std::string& line, std::string* reply);
  void Run();
  int port() const { return port_; }

 private:
  void Accept();
  void ServeControl(size_t i);
  void ReadInto(Conn& c, Pipe& p);
  void Pump(Conn& c, Pipe& p, uint64_t now, uint64_t* wake);
  void Flip(Conn& c, Pipe& p, std::string& bytes);
  void DrawDrop(Conn& c);
  void Close(Conn& c, const char* why, bool reset = false);
  std::string StatusLine() const;

  std::mt19937_64 rng_;
  sockaddr_storage target_;
  socklen_t target_len_;
  int listen_fd_ = -1;
  int control_fd_ = -1;
  int port_ = 0;
  struct Client {
    int fd;
    std::string in;
  };
  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Faults faults_;
  uint64_t next_id_ = 1;
  // Counters for `status`.
  uint64_t accepted_ = 0, flips_ = 0, drops_ = 0, vanishes_ = 0, cuts_ = 0, commands_ = 0;
  uint64_t bytes_[2] = {0, 0};
};

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool Proxy::Listen(int port, const std::string& control) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    Log("cannot listen on 127.0.0.1:{}: {}", port, strerror(errno));
    return false;
  }
  socklen_t len = sizeof(a);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  NonBlocking(listen_fd_);
  if (!control.empty()) {
    sockaddr_un u{};
    u.sun_family = AF_UNIX;
    if (control.size() >= sizeof(u.sun_path)) {
      Log("the control path {} is too long for a Unix socket", control);
      return false;
    }
    std::memcpy(u.sun_path, control.c_str(), control.size() + 1);
    unlink(control.c_str());
    control_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(control_fd_, reinterpret_cast<sockaddr*>(&u), sizeof(u)) != 0 ||
        listen(control_fd_, 8) != 0) {
      Log("cannot listen on the control socket {}: {}", control, strerror(errno));
      return false;
    }
    NonBlocking(control_fd_);
  }
  return true;
}

Status Proxy::Apply(const std::string& line, std::string* reply) {
  Result<Action> a = ApplyCommand(line, &faults_);
  if (!a.ok()) return a.status();
  // A command that leaves a fault in force counts as one fault injected.
  if (*a == Action::kVanish || *a == Action::kCut || (*a != Action::kStatus && faults_.any())) {
    commands_++;
  }
  switch (*a) {
    case Action::kDropAfter:
      for (auto& c : conns_) {
        if (!c->vanished) DrawDrop(*c);
      }
      break;
    case Action::kVanish:
      for (auto& c : conns_) {
        if (c->vanished) continue;
        c->vanished = true;
        vanishes_++;
        Log("conn {}: vanish: nothing forwarded from now on, no FIN or RST to either peer", c->id);
      }
      break;
    case Action::kCut:
      while (!conns_.empty()) {
        cuts_++;
        Close(*conns_.back(), "cut by command");
      }
      break;
    case Action::kStatus:
      *reply = StatusLine();
      return Status::OK();
    case Action::kNone:
      break;
  }
  Log("command '{}': faults now {}", line, Describe(faults_));
  *reply = "faults " + Describe(faults_);
  return Status::OK();
}

std::string Proxy::StatusLine() const {
  return fmt::format(
      "connections {} open {} bytes c2s {} s2c {} flips {} drops {} vanishes {} cuts {} "
      "fault-commands {} faults {}",
      accepted_, conns_.size(), bytes_[0], bytes_[1], flips_, drops_, vanishes_, cuts_,
      commands_, Describe(faults_));
}

void Proxy::DrawDrop(Conn& c) {
  if (faults_.drop_hi == 0) return;
  std::uniform_int_distribution<uint64_t> d(faults_.drop_lo, faults_.drop_hi);
  c.drop_at = c.forwarded + d(rng_);
  Log("conn {}: will be cut after {} more bytes", c.id, c.drop_at - c.forwarded);
}

void Proxy::Accept() {
  for (;;) {
    int cfd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) return;
    accepted_++;
    // A blocking connect: the target is on loopback, where it answers at once.
    int sfd = socket(target_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(sfd, reinterpret_cast<sockaddr*>(&target_), target_len_) != 0) {
      Log("conn {}: the target refused ({}); closing the client", next_id_++, strerror(errno));
      close(sfd);
      close(cfd);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd[0] = cfd;
    c->fd[1] = sfd;
    c->pipe[0].from = 0;
    c->pipe[0].name = "c2s";
    c->pipe[1].from = 1;
    c->pipe[1].name = "s2c";
    int one = 1;
    for (int fd : c->fd) {
      NonBlocking(fd);
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    Log("conn {}: open", c->id);
    DrawDrop(*c);
    conns_.push_back(std::move(c));
  }
}

void Proxy::Close(Conn& c, const char* why, bool reset) {
  for (int fd : c.fd) {
    if (reset) {
      linger l{1, 0};  // close sends RST instead of FIN
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(fd);
  }
  Log("conn {}: closed ({}) after {} bytes forwarded, {} discarded", c.id, why, c.forwarded,
      c.pipe[0].discarded + c.pipe[1].discarded);
  std::erase_if(conns_, [&](const std::unique_ptr<Conn>& p) { return p.get() == &c; });
}

// Flips bits in `bytes` (just read) as the flip fault says, and logs each flip.
void Proxy::Flip(Conn& c, Pipe& p, std::string& bytes) {
  const double prob = faults_.flip_p;
  if (prob <= 0 || bytes.empty()) return;
  auto flip_at = [&](size_t i) {
    int bit = static_cast<int>(rng_() % 8);
    bytes[i] = static_cast<char>(bytes[i] ^ (1 << bit));
    flips_++;
    Log("conn {} {}: flipped bit {} of byte {}", c.id, p.name, bit, p.offset + i);
  };
  if (faults_.flip_per_chunk) {
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < prob) flip_at(rng_() % bytes.size());
    return;
  }
  // Per byte: the gap to the next flipped byte is geometric, so the cost is per flip.
  if (p.flip_drawn_p != prob) {
    p.flip_in = prob >= 1 ? 0 : std::geometric_distribution<uint64_t>(prob)(rng_);
    p.flip_drawn_p = prob;
  }
  size_t i = 0;
  while (p.flip_in < bytes.size() - i) {
    i += p.flip_in;
    flip_at(i);
    i++;
    p.flip_in = prob >= 1 ? 0 : std::geometric_distribution<uint64_t>(prob)(rng_);
  }
  p.flip_in -= bytes.size() - i;
}

void Proxy::ReadInto(Conn& c, Pipe& p) {
  // No room (or nothing more to read): a read of 0 bytes would look like EOF.
  if (p.eof || p.queued >= kMaxQueued || faults_.stall) return;
  std::string buf(std::min(kReadSize, kMaxQueued - p.queued), '\0');
  ssize_t n = read(c.fd[p.from], buf.data(), buf.size());
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    Log("conn {} {}: read: {}", c.id, p.name, strerror(errno));
    c.failed = true;
    return;
  }
  if (n == 0) {
    p.eof = true;
    return;
  }
  buf.resize(static_cast<size_t>(n));
  bool discard = p.from == 0 ? faults_.discard_c2s : faults_.discard_s2c;
  if (discard) {
    if (p.discarded == 0) Log("conn {} {}: discarding this direction (oneway)", c.id, p.name);
    p.discarded += buf.size();
    p.offset += buf.size();
    return;
  }
  Flip(c, p, buf);
  p.offset += buf.size();
  uint64_t now = NowUs();
  uint64_t delay = uint64_t{faults_.delay_ms} * 1000;
  if (faults_.jitter_ms) {
    delay += std::uniform_int_distribution<uint64_t>(0, uint64_t{faults_.jitter_ms} * 1000)(rng_);
  }
  // TCP never reorders, so neither does the delay: a chunk is due no earlier than the last.
  p.last_due_us = std::max(p.last_due_us, now + delay);
  p.queued += buf.size();
  p.queue.push_back(Chunk{std::move(buf), 0, p.last_due_us});
}

// Writes what is due and allowed; lowers *wake to when more will be.
void Proxy::Pump(Conn& c, Pipe& p, uint64_t now, uint64_t* wake) {
  p.want_out = false;
  const int to = c.fd[1 - p.from];
  const uint64_t bps = faults_.throttle_bps;
  if (bps) {
    // The bucket holds at most 50 ms of rate (and at least one MTU-sized write).
    double cap = std::max(1400.0, static_cast<double>(bps) / 20);
    p.tokens = std::min(cap, p.tokens + static_cast<double>(now - p.tokens_us) * static_cast<double>(bps) / 1e6);
  }
  p.tokens_us = now;
  while (!p.queue.empty() && !faults_.stall) {
    Chunk& h = p.queue.front();
    if (h.due_us > now) {
      *wake = std::min(*wake, h.due_us);
      return;
    }
    size_t n = h.bytes.size() - h.off;
    if (bps) {
      if (p.tokens < 1) {
        *wake = std::min(*wake, now + static_cast<uint64_t>(1e6 * std::min<double>(n, 1400) / static_cast<double>(bps)) + 1);
        return;
      }
      n = std::min(n, static_cast<size_t>(p.tokens));
    }
    if (c.drop_at) n = std::min<uint64_t>(n, c.drop_at - c.forwarded);
    ssize_t w = n == 0 ? 0 : send(to, h.bytes.data() + h.off, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      p.want_out = true;
      return;
    }
    if (w < 0) {
      Log("conn {} {}: write: {}", c.id, p.name, strerror(errno));
      c.failed = true;
      return;
    }
    size_t sent = static_cast<size_t>(w);
    h.off += sent;
    p.queued -= sent;
    c.forwarded += sent;
    bytes_[p.from] += sent;
    if (bps) p.tokens -= static_cast<double>(sent);
    if (h.off == h.bytes.size()) p.queue.pop_front();
    if (c.drop_at && c.forwarded >= c.drop_at) return;  // the caller cuts
  }
  if (p.queue.empty() && p.eof && !p.shut) {
    shutdown(to, SHUT_WR);
    p.shut = true;
  }
}

void Proxy::ServeControl(size_t i) {
  char buf[4096];
  ssize_t n = read(clients_[i].fd, buf, sizeof(buf));
  if (n <= 0) {
    if (n < 0 && errno == EAGAIN) return;
    close(clients_[i].fd);
    clients_.erase(clients_.begin() + static_cast<ptrdiff_t>(i));
    return;
  }
  clients_[i].in.append(buf, static_cast<size_t>(n));
  size_t nl;
  while ((nl = clients_[i].in.find('\n')) != std::string::npos) {
    std::string line = clients_[i].in.substr(0, nl);
    clients_[i].in.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string reply;
    Status s = Apply(line, &reply);
    std::string out = (s.ok() ? "ok " + reply : "error: " + s.message()) + "\n";
    (void)!write(clients_[i].fd, out.data(), out.size());  // short replies; blocking socket
  }
}

void Proxy::Run() {
  while (!g_stop) {
    uint64_t now = NowUs();
    uint64_t wake = now + 1000000;
    // Send what is due; cut connections that reached their cut point.
    for (size_t i = 0; i < conns_.size();) {
      Conn& c = *conns_[i];
      if (!c.vanished) {
        for (Pipe& p : c.pipe) Pump(c, p, now, &wake);
        if (c.failed) {
          Close(c, "a peer reset or failed; passing the reset on", true);
          continue;
        }
        if (c.drop_at && c.forwarded >= c.drop_at) {
          drops_++;
          bool reset = rng_() % 2 == 0;
          Log("conn {}: drop after {} bytes ({} s2c, {} c2s read), with {}", c.id, c.forwarded,
              c.pipe[1].offset, c.pipe[0].offset, reset ? "RST" : "FIN");
          Close(c, "dropped", reset);
          continue;
        }
        if (c.pipe[0].shut && c.pipe[1].shut) {
          Close(c, "both peers closed");
          continue;
        }
      }
      i++;
    }
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    fds.push_back({control_fd_, POLLIN, 0});
    for (Client& cl : clients_) fds.push_back({cl.fd, POLLIN, 0});
    const size_t first_conn = fds.size();
    std::vector<Conn*> owners;  // owners[j] has pollfds first_conn + 2j and + 2j + 1
    for (auto& c : conns_) {
      owners.push_back(c.get());
      for (int side = 0; side < 2; side++) {
        short ev = 0;
        const Pipe& out = c->pipe[side];     // read from this side
        const Pipe& in = c->pipe[1 - side];  // written to this side
        if (c->vanished) {
          ev = POLLRDHUP;  // only to learn that the peer has gone
        } else {
          if (!faults_.stall && !out.eof && out.queued < kMaxQueued) ev |= POLLIN;
          if (in.want_out) ev |= POLLOUT;
        }
        // A side with nothing to wait for is left out (fd -1): poll reports POLLHUP
        // whether asked or not, and would spin while a full queue waits for the peer,
        // during a stall, or on a vanished side whose peer has gone.
        fds.push_back({ev == 0 || c->gone[side] ? -1 : c->fd[side], ev, 0});
      }
    }
    int timeout_ms = static_cast<int>((wake > now ? wake - now : 0) / 1000) + 1;
    if (poll(fds.data(), fds.size(), timeout_ms) < 0) continue;
    // Connections first: control commands below may close them.
    std::vector<Conn*> gone;
    for (size_t j = 0; j < owners.size(); j++) {
      Conn* c = owners[j];
      for (int side = 0; side < 2; side++) {
        short re = fds[first_conn + 2 * j + static_cast<size_t>(side)].revents;
        if (c->vanished) {
          if (re & (POLLRDHUP | POLLHUP | POLLERR)) c->gone[side] = true;
        } else if (re & (POLLIN | POLLHUP | POLLERR)) {
          ReadInto(*c, c->pipe[side]);
        }
      }
      if (c->vanished && c->gone[0] && c->gone[1]) gone.push_back(c);
      if (c->failed) gone.push_back(c);
    }
    for (Conn* c : gone) {
      if (c->failed) Close(*c, "a peer reset or failed; passing the reset on", true);
      else Close(*c, "vanished; both peers have given up");
    }
    if (fds[0].revents) Accept();
    for (size_t i = clients_.size(); i-- > 0;) {
      if (fds[2 + i].revents) ServeControl(i);
    }
    if (control_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      int cfd = accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd >= 0) clients_.push_back({cfd, ""});
    }
  }
  if (control_fd_ >= 0) close(control_fd_);
}

bool ParseTarget(const std::string& s, sockaddr_storage* out, socklen_t* len) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(s.substr(0, colon).c_str(), s.substr(colon + 1).c_str(), &hints, &res) != 0) {
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

// --ctl PATH COMMAND...: one command, its reply on stdout; exit 0 if it was "ok".
int Control(const std::string& path, const std::string& line) {
  sockaddr_un u{};
  u.sun_family = AF_UNIX;
  std::snprintf(u.sun_path, sizeof(u.sun_path), "%s", path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&u), sizeof(u)) != 0) {
    std::fprintf(stderr, "faultproxy: cannot reach the control socket %s: %s (is faultproxy running?)\n",
                 path.c_str(), strerror(errno));
    return 1;
  }
  std::string msg = line + "\n";
  (void)!write(fd, msg.data(), msg.size());
  std::string reply;
  char buf[4096];
  ssize_t n;
  while (reply.find('\n') == std::string::npos && (n = read(fd, buf, sizeof(buf))) > 0) {
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  std::fputs(reply.c_str(), stdout);
  return reply.starts_with("ok") ? 0 : 1;
}

constexpr const char* kUsage =
    "usage: faultproxy --listen PORT --target HOST:PORT [--control PATH] [--seed N] "
    "[--fault 'COMMAND']...\n"
    "       faultproxy --ctl PATH COMMAND...\n";

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 3 && args[0] == "--ctl") {
    std::string line = args[2];
    for (size_t i = 3; i < args.size(); i++) line += " " + args[i];
    return Control(args[1], line);
  }
  int port = -1;
  std::string target, control;
  uint64_t seed = std::random_device()();
  std::vector<std::string> initial;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "faultproxy: option '%s' needs a value\n%s", a.c_str(), kUsage);
      return 2;
    }
    const std::string& v = args[++i];
    if (a == "--listen") port = std::atoi(v.c_str());
    else if (a == "--target") target = v;
    else if (a == "--control") control = v;
    else if (a == "--seed") seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--fault") initial.push_back(v);
    else {
      std::fprintf(stderr, "faultproxy: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (port < 0 || port > 65535 || target.empty()) {
    std::fprintf(stderr, "faultproxy: --listen and --target are required\n%s", kUsage);
    return 2;
  }
  if (!ParseTarget(target, &addr, &len)) {
    std::fprintf(stderr, "faultproxy: cannot resolve the target '%s' (want HOST:PORT)\n", target.c_str());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  Proxy proxy(seed, addr, len);
  for (const std::string& f : initial) {
    std::string reply;
    Status s = proxy.Apply(f, &reply);
    if (!s.ok()) {
      std::fprintf(stderr, "faultproxy: --fault '%s': %s\n", f.c_str(), s.message().c_str());
      return 2;
    }
  }
  if (!proxy.Listen(port, control)) return 1;
  Log("listening on 127.0.0.1:{}, forwarding to {}, seed {} (replay with --seed {}){}",
      proxy.port(), target, seed, seed, control.empty() ? "" : ", control " + control);
  proxy.Run();
  Log("stopping");
  if (!control.empty()) unlink(control.c_str());
  return 0;
}

}  // namespace
}  // namespace tranship::faultproxy

int main(int argc, char** argv) { return tranship::faultproxy::Main(argc, argv); }
