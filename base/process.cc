#include "base/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "base/clock.h"

namespace tranship {

std::string ReadProcFile(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

namespace {

// The state letter of /proc/PID/stat ("pid (comm) S ..."; comm may contain ')'), or 0.
char StateOf(pid_t pid) {
  std::string stat = ReadProcFile(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

bool Exited(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

// SIGKILL is pending for the main thread: the kernel marks every thread of a killed
// process so, and they exit as soon as they leave the kernel.
bool Killed(pid_t pid) {
  std::string status = ReadProcFile(fmt::format("/proc/{}/status", pid));
  for (const char* key : {"\nSigPnd:", "\nShdPnd:"}) {
    size_t at = status.find(key);
    if (at == std::string::npos) continue;
    unsigned long long mask = std::strtoull(status.c_str() + at + std::char_traits<char>::length(key),
                                            nullptr, 16);
    if (mask & (1ull << (9 - 1))) return true;  // bit N-1 is signal N; SIGKILL is 9
  }
  return false;
}

// Threads of `pid` other than its main thread that have not exited yet.
int OtherThreads(pid_t pid) {
  DIR* d = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (d == nullptr) return 0;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
    if (tid == pid) continue;
    std::string stat = ReadProcFile(fmt::format("/proc/{}/task/{}/stat", pid, tid));
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && Exited(stat[paren + 2])) continue;
    n++;
  }
  ::closedir(d);
  return n;
}

}  // namespace

ProcessState InspectProcess(pid_t pid) {
  if (pid <= 0) return ProcessState::kGone;
  char state = StateOf(pid);
  if (state == 0) return ProcessState::kGone;  // no /proc entry: reaped
  if (Exited(state)) {
    return OtherThreads(pid) > 0 ? ProcessState::kDying : ProcessState::kGone;
  }
  return Killed(pid) ? ProcessState::kDying : ProcessState::kAlive;
}

bool ProcessAlive(pid_t pid) { return InspectProcess(pid) == ProcessState::kAlive; }

bool ProcessGone(pid_t pid) { return InspectProcess(pid) == ProcessState::kGone; }

bool WaitUntilGone(pid_t pid, uint64_t max_ms) {
  const uint64_t deadline = MonotonicNanos() + max_ms * 1000000;
  // A pidfd becomes readable once every thread of the process has exited, so the wait
  // ends then rather than at the next poll of /proc (a stop is on a failover's path).
  int pidfd = -1;
#ifdef SYS_pidfd_open
  pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#endif
  bool gone;
  while (!(gone = ProcessGone(pid))) {
    uint64_t now = MonotonicNanos();
    if (now >= deadline) break;
    int wait_ms = static_cast<int>(std::min<uint64_t>((deadline - now) / 1000000 + 1, 50));
    pollfd p{pidfd, POLLIN, 0};
    if (pidfd < 0 || ::poll(&p, 1, wait_ms) > 0) {
      // No pidfd (an old kernel), or it says exited while /proc still lists a thread.
      ::usleep(pidfd < 0 ? 5 * 1000 : 500);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return gone;
}

}  // namespace tranship
