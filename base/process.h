#pragma once
// What /proc says of another process: alive, dying, or gone.
//
// kill -9 of a multi-threaded process (every tranship daemon has a libuv thread pool)
// ends its threads one by one. Its main thread can already be a zombie while the others
// are still exiting, and until the last of them has, the process still holds its open
// files: a repository's lock among them. So "the main thread is a zombie" does not mean
// "its files are released". Callers that are about to take such a process's place
// (startstone after a crash, a test after its kill -9) wait for ProcessGone, or take the
// lock through AcquireLock (base/file_lock.h), which waits for a dying holder.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tranship {

enum class ProcessState {
  kGone,   // no such process, or only its zombie main thread is left: it holds nothing
  kDying,  // killed, or its main thread has exited, while other threads still run
  kAlive,
};

ProcessState InspectProcess(pid_t pid);

// Alive and not dying: a process that serves (a zombie main thread counts as dead, as
// nothing may reap it when its parent is init in a container).
bool ProcessAlive(pid_t pid);
// Every thread has exited: whatever the process held (locks, ports, files) is released.
bool ProcessGone(pid_t pid);

// Waits (on a pidfd, or polling /proc, up to max_ms) until `pid` is gone; false if it is
// not by then.
bool WaitUntilGone(pid_t pid, uint64_t max_ms);

// A /proc file whole ("" if it cannot be read): they report size 0, so they are read to
// EOF rather than by their size.
std::string ReadProcFile(const std::string& path);

}  // namespace tranship
