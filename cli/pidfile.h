#pragma once
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
#include <string>
#include <vector>

#include "base/process.h"
#include "base/status.h"

namespace tranship::cli {

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

// The login name of the current user (or the uid as text).
std::string CurrentUser();
// The owner of `path`'s login name, or "-".
std::string FileOwner(const std::string& path);

}  // namespace tranship::cli
