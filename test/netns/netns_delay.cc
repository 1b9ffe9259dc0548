// netns-delay: what `tc netem` does on a host's egress, for kernels built without the
// netem qdisc. netns-cluster runs it in the switch namespace with the bridge's forwarding
// turned off; it reads every frame arriving on a bridge port (the egress of the host on
// the other end of that veth) and, unless it is lost, sends it out of the port that
// leads to its destination (learned from source addresses; otherwise every other port)
// once the sending host's delay ± jitter (uniform, like netem without a table) has
// passed. Frames are kept in the order of their send times, so jitter reorders as netem
// does. PACKET_VNET_HDR carries offload metadata through, so TCP segmentation and
// checksum offload of the veths keep working.
//
//   netns-delay CONF READY_FILE PORT...
//
// CONF has lines "PORT DELAY_MS JITTER_MS LOSS_PERCENT" (ports without a line pass
// undelayed); it is read at start and on SIGHUP. READY_FILE is created once every port
// is open. SIGTERM and SIGINT end it; frames still waiting are dropped.

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

// struct virtio_net_hdr (flags, gso_type: u8; hdr_len, gso_size, csum_start, csum_offset:
// u16), which PACKET_VNET_HDR puts before each frame. <linux/virtio_net.h> is not valid
// C++ (a member named `class`), hence the size by hand.
constexpr size_t kVnetHdr = 10;
// Frames waiting at most, like netem's default `limit 1000`; more are dropped, as a full
// qdisc drops them. Keeps memory bounded whatever the hosts send.
constexpr size_t kLimit = 1000;

struct Impairment {
  double delay_ms = 0, jitter_ms = 0, loss = 0;  // loss as a probability
};

struct Frame {
  int64_t due_ns;
  uint64_t seq;  // ties keep arrival order
  size_t in_port;
  std::string bytes;  // virtio_net_hdr + Ethernet frame
  bool operator>(const Frame& o) const { return due_ns != o.due_ns ? due_ns > o.due_ns : seq > o.seq; }
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "netns-delay: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

int OpenPort(const std::string& name) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) Die("socket");
  int on = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) != 0) Die("PACKET_VNET_HDR");
  sockaddr_ll a{};
  a.sll_family = AF_PACKET;
  a.sll_protocol = htons(ETH_P_ALL);
  a.sll_ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (a.sll_ifindex == 0) Die("no interface '" + name + "'");
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Die("bind " + name);
  return fd;
}

std::map<std::string, Impairment> ReadConf(const std::string& path) {
  std::map<std::string, Impairment> m;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string port;
    Impairment i;
    double loss_pct = 0;
    if (in >> port >> i.delay_ms >> i.jitter_ms >> loss_pct) {
      i.loss = loss_pct / 100.0;
      m[port] = i;
    }
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "Usage: netns-delay CONF READY_FILE PORT...\n");
    return 2;
  }
  std::string conf_path = argv[1];
  std::vector<std::string> names(argv + 3, argv + argc);
  std::vector<int> fds;
  for (const std::string& n : names) fds.push_back(OpenPort(n));

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) Die("signalfd");

  std::vector<Impairment> imp(names.size());
  auto load = [&] {
    auto conf = ReadConf(conf_path);
    for (size_t i = 0; i < names.size(); i++) imp[i] = conf.count(names[i]) ? conf[names[i]] : Impairment{};
  };
  load();
  if (FILE* f = std::fopen(argv[2], "w")) std::fclose(f);
  else Die("create " + std::string(argv[2]));

  std::mt19937_64 rng(static_cast<uint64_t>(NowNs()));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::priority_queue<Frame, std::vector<Frame>, std::greater<Frame>> queue;
  std::map<std::array<uint8_t, 6>, size_t> where;  // learned: source address -> port
  uint64_t seq = 0;
  std::vector<char> buf(kVnetHdr + 65536 + 64);

  auto send_out = [&](const Frame& f) {
    const auto* eth = reinterpret_cast<const uint8_t*>(f.bytes.data() + kVnetHdr);
    std::array<uint8_t, 6> dst;
    std::memcpy(dst.data(), eth, 6);
    auto it = (dst[0] & 1) ? where.end() : where.find(dst);
    for (size_t p = 0; p < fds.size(); p++) {
      if (p == f.in_port || (it != where.end() && it->second != p)) continue;
      // A full send queue drops the frame, as a full qdisc would.
      (void)!send(fds[p], f.bytes.data(), f.bytes.size(), MSG_DONTWAIT);
    }
  };

  std::vector<pollfd> pfds;
  for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
  pfds.push_back({sfd, POLLIN, 0});
  while (true) {
    int timeout = -1;
    if (!queue.empty()) {
      int64_t wait = queue.top().due_ns - NowNs();
      timeout = wait <= 0 ? 0 : static_cast<int>((wait + 999'999) / 1'000'000);
    }
    if (poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) Die("poll");
    if (pfds.back().revents & POLLIN) {
      signalfd_siginfo si;
      if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) load();
        else return 0;
      }
    }
    for (size_t p = 0; p < fds.size(); p++) {
      if (!(pfds[p].revents & POLLIN)) continue;
      while (true) {
        sockaddr_ll from{};
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(fds[p], buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) break;
        if (from.sll_pkttype == PACKET_OUTGOING) continue;  // what this program sent
        if (static_cast<size_t>(n) < kVnetHdr + 14) continue;
        std::array<uint8_t, 6> src;
        std::memcpy(src.data(), buf.data() + kVnetHdr + 6, 6);
        where[src] = p;
        const Impairment& i = imp[p];
        if (i.loss > 0 && unit(rng) < i.loss) continue;
        if (queue.size() >= kLimit) continue;
        double ms = i.delay_ms + (i.jitter_ms > 0 ? (unit(rng) * 2 - 1) * i.jitter_ms : 0);
        int64_t due = NowNs() + static_cast<int64_t>(std::max(0.0, ms) * 1e6);
        queue.push(Frame{due, seq++, p, std::string(buf.data(), static_cast<size_t>(n))});
      }
    }
    int64_t now = NowNs();
    while (!queue.empty() && queue.top().due_ns <= now) {
      send_out(queue.top());
      queue.pop();
    }
  }
}
