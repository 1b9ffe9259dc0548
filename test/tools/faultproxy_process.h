#pragma once
// A faultproxy ($TRANSHIP_FAULTPROXY) run as a child process for a test: it listens on a
// free loopback port, forwards to 127.0.0.1:TARGET, and takes one-line commands on its
// control socket (docs/faultproxy.md). Stopped with SIGTERM when the object goes.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

#include "test/free_port.h"
#include "test/test_util.h"

namespace tranship::test {

class FaultProxyProcess {
 public:
  // `control` and `log` are paths for its control socket and its log (stderr).
  FaultProxyProcess(int target_port, std::string control, std::string log, uint64_t seed)
      : control_(std::move(control)), log_(std::move(log)) {
    const char* exe = std::getenv("TRANSHIP_FAULTPROXY");
    REQUIRE_MESSAGE(exe != nullptr, "TRANSHIP_FAULTPROXY must name the faultproxy binary");
    port_ = FreePort();
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      dup2(fd, 2);
      std::string p = std::to_string(port_), t = "127.0.0.1:" + std::to_string(target_port),
                  s = std::to_string(seed);
      execl(exe, "faultproxy", "--listen", p.c_str(), "--target", t.c_str(), "--control",
            control_.c_str(), "--seed", s.c_str(), nullptr);
      _exit(127);
    }
    REQUIRE(WaitFor([&] { return ReadAll(log_).find("listening on") != std::string::npos; }));
  }
  ~FaultProxyProcess() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  FaultProxyProcess(const FaultProxyProcess&) = delete;
  FaultProxyProcess& operator=(const FaultProxyProcess&) = delete;

  int port() const { return port_; }
  std::string log() const { return ReadAll(log_); }

  // One control command; its reply line ("ok ..." or "error ...").
  std::string Ctl(const std::string& line) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un u{};
    u.sun_family = AF_UNIX;
    std::snprintf(u.sun_path, sizeof(u.sun_path), "%s", control_.c_str());
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&u), sizeof(u)) == 0);
    std::string msg = line + "\n";
    for (size_t off = 0; off < msg.size();) {
      ssize_t w = write(fd, msg.data() + off, msg.size() - off);
      REQUIRE(w > 0);
      off += static_cast<size_t>(w);
    }
    std::string reply;
    char ch;
    while (read(fd, &ch, 1) == 1 && ch != '\n') reply += ch;
    close(fd);
    return reply;
  }
  // The number after `name` in the status line.
  uint64_t Counter(const std::string& name) {
    std::string s = Ctl("status");
    size_t at = s.find(" " + name + " ");
    REQUIRE(at != std::string::npos);
    return std::strtoull(s.c_str() + at + name.size() + 2, nullptr, 10);
  }

 private:
  std::string control_, log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tranship::test
