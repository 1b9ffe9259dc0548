#include "base/file_lock.h"

#include <unistd.h>

#include <charconv>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/process.h"

namespace tranship {
namespace {

// The pid the lock file records (Env::LockFile writes it), or 0.
pid_t HolderOf(Env* env, const std::string& path) {
  Result<std::string> text = ReadFileToString(env, path);
  if (!text.ok()) return 0;
  pid_t pid = 0;
  const char* end = text->data() + text->size();
  auto [p, ec] = std::from_chars(text->data(), end, pid);
  return ec == std::errc() ? pid : 0;
}

}  // namespace

Result<std::unique_ptr<FileLock>> AcquireLock(Env* env, const std::string& path,
                                              uint64_t max_wait_ms) {
  Result<std::unique_ptr<FileLock>> lock = env->LockFile(path);
  if (lock.ok() || lock.status().code() != Status::Code::kBusy) return lock;
  const pid_t holder = HolderOf(env, path);
  if (holder <= 0 || holder == ::getpid() || InspectProcess(holder) == ProcessState::kAlive) {
    return lock;
  }
  TS_LOG_WARN("{} is held by pid {}, which has died and is still exiting; waiting up to {} s "
              "for it to let go",
              path, holder, max_wait_ms / 1000.0);
  const uint64_t start = MonotonicNanos();
  const uint64_t deadline = start + max_wait_ms * 1000000;
  while (MonotonicNanos() < deadline) {
    ::usleep(5 * 1000);
    lock = env->LockFile(path);
    if (lock.ok()) {
      TS_LOG_INFO("pid {} let go of {} after {} ms", holder, path,
                  (MonotonicNanos() - start) / 1000000);
      return lock;
    }
    if (lock.status().code() != Status::Code::kBusy) return lock;
    // Someone else took the lock meanwhile: the new holder is alive, so refuse now.
    if (pid_t now = HolderOf(env, path); now != holder && now > 0) return lock;
  }
  return Status::Busy(fmt::format(
      "{} is still held by pid {}, which died but has not finished exiting after {} s (a "
      "thread stuck in the kernel, such as in disk I/O: see /proc/{}/task/*/stat)",
      path, holder, max_wait_ms / 1000.0, holder));
}

}  // namespace tranship
