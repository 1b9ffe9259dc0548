#pragma once
// Taking a lock file whose holder may have just been killed.
//
// A repository's lock (and a logsender's or logreceiver's run/*.lock) is an flock held
// by the daemon process. After kill -9 the process's main thread can show as a zombie
// while its other threads are still exiting and still hold the lock (base/process.h),
// so a watchdog that restarts a crashed stone at once finds the repository "locked by
// another process". AcquireLock waits, up to max_wait_ms, while the holder named in the
// lock file is dying, and logs that it does; a live holder is refused at once.

#include <cstdint>
#include <memory>
#include <string>

#include "base/env.h"

namespace tranship {

// A killed process normally finishes exiting within milliseconds; a thread inside a
// slow disk's fdatasync can hold it for a few seconds.
inline constexpr uint64_t kDyingHolderWaitMs = 10000;

// Env::LockFile, except that a holder that is dying is waited for. Busy names the holder
// (and, after the wait, says that it died but never let go).
Result<std::unique_ptr<FileLock>> AcquireLock(Env* env, const std::string& path,
                                              uint64_t max_wait_ms = kDyingHolderWaitMs);

}  // namespace tranship
