#pragma once
// A process caught dying while it still holds a lock: the state kill -9 leaves a
// multi-threaded daemon in for a moment (base/process.h). A forked child takes the lock
// file, starts a thread, and ends its main thread alone (SYS_exit, not exit_group): the
// main thread is then a zombie while the other thread still holds the lock, until the
// test calls Release(). So the window that is a race in real life is held open for as
// long as the test needs it.

#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <doctest/doctest.h>

#include "base/env.h"
#include "base/process.h"
#include "test/test_util.h"

namespace tranship::test {

class DyingHolder {
 public:
  explicit DyingHolder(const std::string& lock_path) {
    int go[2];
    int ready[2];
    REQUIRE(pipe(go) == 0);
    REQUIRE(pipe(ready) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      close(go[1]);
      close(ready[0]);
      auto lock = Env::Default()->LockFile(lock_path);
      if (!lock.ok()) _exit(3);
      static int go_fd;
      go_fd = go[0];
      pthread_t t;
      // The thread holds on until told, then ends the whole process.
      auto hold = [](void*) -> void* {
        char c;
        (void)!read(go_fd, &c, 1);
        _exit(0);
      };
      if (pthread_create(&t, nullptr, hold, nullptr) != 0) _exit(4);
      (void)!write(ready[1], "r", 1);
      syscall(SYS_exit, 0);  // this thread only
    }
    close(go[0]);
    close(ready[1]);
    go_ = go[1];
    char c = 0;
    REQUIRE(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    REQUIRE(WaitFor([&] { return InspectProcess(pid_) == ProcessState::kDying; }));
  }
  ~DyingHolder() { Release(); }
  DyingHolder(const DyingHolder&) = delete;
  DyingHolder& operator=(const DyingHolder&) = delete;

  pid_t pid() const { return pid_; }
  // The last thread exits; the process is reaped.
  void Release() {
    if (go_ < 0) return;
    (void)!write(go_, "g", 1);
    close(go_);
    go_ = -1;
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
};

}  // namespace tranship::test
