#pragma once
// Work that reads or writes a whole state beside the commits (a checkpoint's extent, a
// full backup, a digest) runs at a lower CPU priority than the threads that serve
// commits: on a host with few cores, it then takes the CPU the commits leave, instead
// of a fair share of it that the commits' latency pays for.

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <functional>
#include <thread>

namespace tranship {

// Nice value of background threads (Linux gives each thread its own).
inline constexpr int kBackgroundNice = 10;

// Lowers the calling thread's priority to kBackgroundNice. It cannot be raised again
// without privilege, so only threads of their own call it.
inline void LowerThreadPriority() {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kBackgroundNice);
}

// Runs `fn` on a thread of its own at background priority and waits for it.
inline void RunInBackground(const std::function<void()>& fn) {
  std::thread t([&fn] {
    LowerThreadPriority();
    fn();
  });
  t.join();
}

}  // namespace tranship
