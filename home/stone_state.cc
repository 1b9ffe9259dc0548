#include "home/stone_state.h"

#include <fmt/format.h>

#include "base/env.h"

namespace tranship::home {

const char* ToString(RunState s) {
  switch (s) {
    case RunState::kStopped: return "exists";
    case RunState::kRunning: return "running";
    case RunState::kStalePid: return "stale pid";
  }
  return "?";
}

StoneState ProbeStone(const Home& home, const std::string& name) {
  StoneState st;
  Result<ProcessDescription> d = ReadPidFile(home.PidPath(name));
  if (!d.ok()) {
    // A pid file that exists but cannot be parsed is stale too.
    if (Env::Default()->FileExists(home.PidPath(name))) st.state = RunState::kStalePid;
    return st;
  }
  st.process = std::move(*d);
  bool ours = IsStoneProcess(st.process.pid, name) &&
              Env::Default()->FileExists(home.SocketPath(name));
  st.state = ours ? RunState::kRunning : RunState::kStalePid;
  return st;
}

Status RequireRunning(const Home& home, const std::string& name) {
  TRANSHIP_RETURN_IF_ERROR(home.RequireStone(name));
  if (ProbeStone(home, name).state == RunState::kRunning) return Status::OK();
  return Status::Busy(fmt::format(
      "The stone '{}' is not running. To fix this run 'startstone {}'.", name, name));
}

}  // namespace tranship::home
