#pragma once
// Whether a stone runs, decided from its pid file and the process table: the pid file
// names a live `tranship stone serve NAME` process and its socket exists.

#include <string>

#include "base/status.h"
#include "home/home.h"
#include "daemon/run_files.h"

namespace tranship::home {

using daemon::ProcessDescription;
using daemon::IsStoneProcess;
using daemon::ReadPidFile;

enum class RunState {
  kStopped,    // no pid file
  kRunning,
  kStalePid,   // a pid file whose process is gone (kill -9, power cut) or is not ours
};
const char* ToString(RunState s);  // "exists", "running", "stale pid"

struct StoneState {
  RunState state = RunState::kStopped;
  ProcessDescription process;  // from the pid file, unless kStopped
};

StoneState ProbeStone(const Home& home, const std::string& name);

// The stone exists and runs; otherwise the one-line "does not exist" / "is not
// running. To fix this run 'startstone NAME'." status.
Status RequireRunning(const Home& home, const std::string& name);

}  // namespace tranship::home
