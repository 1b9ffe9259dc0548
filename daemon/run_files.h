#pragma once
// A daemon's run files in $TRANSHIP_HOME/run: BASE.lock (the flock that makes it the only
// one of its kind), BASE.pid (who it is) and BASE.status (what it does, rewritten by the
// daemon). `tranship status`, the stop commands and the tests read them next.
//
// Pid files in $TRANSHIP_HOME/run: one per running process of this home (a stone
// today; the log sender and receiver add theirs). `tranship status` builds its table
// from them, so each file describes its process completely:
//
//   12345                       first line: the pid alone, for kill $(head -1 FILE)
//   type=stone
//   name=prod
//   version=0.1.0
//   owner=gemstone
//   started_us=1763700000123456
//   port=/home/gemstone/.tranship/run/prod.sock
//   mode=restore                only for a stone started with -R
//
// Written atomically (temp file + rename), removed by the process on a clean stop.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/process.h"
#include "base/status.h"

namespace tranship::daemon {

struct ProcessDescription {
  pid_t pid = 0;
  std::string type;        // "stone", later "logsender" / "logreceiver"
  std::string name;
  std::string version;
  std::string owner;
  uint64_t started_us = 0;
  std::string port;        // socket path or TCP port; "-" if none
  std::string mode;        // "restore" for a stone started with -R, else empty
  std::string pidfile;     // where it was read from (not stored in the file)
};

std::string FormatPidFile(const ProcessDescription& d);
Result<ProcessDescription> ParsePidFile(std::string_view text);

Status WritePidFile(const std::string& path, const ProcessDescription& d);
Result<ProcessDescription> ReadPidFile(const std::string& path);
// Every parsable *.pid file in `run_dir`, sorted by file name.
std::vector<ProcessDescription> ReadPidFiles(const std::string& run_dir);

// True if `pid` runs `tranship stone serve NAME`: a pid file can outlive its process
// and the pid be reused by something else.
bool IsStoneProcess(pid_t pid, const std::string& name);

// RUN_DIR/BASE.EXT: "run/logsender-5000.pid".
std::string RunFilePath(const std::string& run_dir, const std::string& base,
                        std::string_view ext);

// Takes RUN_DIR/BASE.lock, the lock that makes this daemon the only one of its kind. If a
// live process holds it, `busy` words the refusal (with the holder's pid when its pid
// file names it); a holder that died without letting go gives AcquireLock's Busy.
Result<std::unique_ptr<FileLock>> LockRunFiles(
    const std::string& run_dir, const std::string& base,
    const std::function<Status(std::optional<pid_t>)>& busy);

// This process as its pid file describes it: pid, version, owner and start time filled.
ProcessDescription ThisProcess(const std::string& type, const std::string& name,
                               const std::string& port);
// Writes the pid file; a failure is logged, not fatal (the daemon serves on).
void WritePidFileOrWarn(const std::string& path, const ProcessDescription& d);
// Replaces BASE.status with `text`: a temporary file, owner-only whatever the umask, then
// a rename, so a reader sees the old or the new file whole. No fsync: it is rewritten
// every second and only describes the daemon, so it costs the loop thread no disk
// flush. A failure is logged, not fatal (the daemon serves on).
void WriteStatusFile(const std::string& path, std::string_view text);
// At a daemon's teardown: removes its pid file if it is still ours, and `others`.
void RemoveRunFiles(const std::string& pid_path, const std::vector<std::string>& others);

// The login name of the current user (or the uid as text).
std::string CurrentUser();
// The owner of `path`'s login name, or "-".
std::string FileOwner(const std::string& path);

}  // namespace tranship::daemon
