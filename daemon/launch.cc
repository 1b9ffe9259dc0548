// Launching a daemon (see launch.h): fork, exec, the readiness pipe.
#include "daemon/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/process.h"

namespace tranship::daemon {
namespace {

constexpr int kNotifyFd = 3;

// In the forked child: becomes the daemon process image. Never returns.
[[noreturn]] void ExecDaemon(int notify_write, const std::string& self_exe,
                             const DaemonLaunch& launch) {
  setsid();  // no controlling terminal: the shell's ^C and hangup do not reach the daemon
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
  }
  // Anything written to stderr (an abort message, a sanitizer report) ends up in the log.
  int log_fd = ::open(launch.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (log_fd >= 0) dup2(log_fd, 2);
  if (notify_write == kNotifyFd) {
    fcntl(kNotifyFd, F_SETFD, 0);
  } else {
    dup2(notify_write, kNotifyFd);  // the duplicate does not have O_CLOEXEC
  }
  // Nothing else of the caller's (pipes of a test harness, sockets) stays open.
  close_range(kNotifyFd + 1, ~0u, 0);

  for (const auto& [name, value] : launch.env) setenv(name.c_str(), value.c_str(), 1);
  std::vector<std::string> args = {"tranship"};
  args.insert(args.end(), launch.args.begin(), launch.args.end());
  args.insert(args.end(), {"--notify-fd", std::to_string(kNotifyFd)});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(self_exe.c_str(), argv.data());
  std::string msg = fmt::format("ERR Cannot run {}: {}\n", self_exe, strerror(errno));
  ssize_t n = write(kNotifyFd, msg.data(), msg.size());
  (void)n;
  _exit(127);
}

std::string DescribeExit(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return "exited";
  if (WIFEXITED(st)) return fmt::format("exited with code {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("was killed by signal {}", WTERMSIG(st));
  return "exited";
}

}  // namespace

void ForgetDaemonPassphrase() {
  // getenv points into the environment block the kernel set up at exec, which is what
  // /proc/PID/environ shows: wipe the bytes there, then drop the variable.
  if (char* v = std::getenv(kDaemonPassphraseEnv); v != nullptr) {
    std::fill(v, v + std::strlen(v), '\0');
  }
  unsetenv(kDaemonPassphraseEnv);
}

Result<pid_t> StartDaemon(const DaemonLaunch& launch, const std::string& self_exe) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return Status::FromErrno(err, "fork");
  }
  if (pid == 0) {
    close(fds[0]);
    ExecDaemon(fds[1], self_exe, launch);
  }
  close(fds[1]);
  // Recovery may take long; the child reports or dies, so the read always ends.
  std::string report;
  char buf[512];
  while (true) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      report.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  close(fds[0]);
  while (!report.empty() && report.back() == '\n') report.pop_back();
  if (report.starts_with("OK")) return pid;
  if (report.starts_with("ERR ")) {
    // Reap it so no zombie is left behind by a failed start.
    (void)DescribeExit(pid);
    return Status::IOError(report.substr(4));
  }
  return Status::IOError(fmt::format("{} {} while starting. See {}.", launch.what,
                                     DescribeExit(pid), launch.log_path));
}

Status StopDaemonProcess(pid_t pid, const std::string& what, const std::string& log_path,
                         int timeout_s) {
  if (kill(pid, SIGTERM) != 0 && errno != ESRCH) {
    return Status::FromErrno(errno, fmt::format("kill -TERM {}", pid));
  }
  // Until every thread has exited, the process still holds its locks and ports.
  if (!WaitUntilGone(pid, static_cast<uint64_t>(timeout_s) * 1000)) {
    return Status::TimedOut(fmt::format(
        "{} (pid {}) did not stop within {} s. See {}; to force it run 'kill -9 {}'.", what,
        pid, timeout_s, log_path, pid));
  }
  return Status::OK();
}

void ReadinessNotifier::Ready(const std::string& line) {
  if (fd_ < 0) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  } else {
    Send("OK " + line + "\n");
  }
  reported_ = true;
}

void ReadinessNotifier::Failed(const std::string& line) {
  if (reported_ || fd_ < 0) return;
  Send("ERR " + line + "\n");
  reported_ = true;
}

void ReadinessNotifier::Send(const std::string& msg) {
  ssize_t n = write(fd_, msg.data(), msg.size());
  (void)n;  // the starter may be gone; the log has the story
  CloseFd();
}

void ReadinessNotifier::CloseFd() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace tranship::daemon
