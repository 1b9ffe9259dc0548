#include "home/stone_process.h"

#include <fmt/format.h>

#include "base/env.h"
#include "daemon/launch.h"
#include "home/stone_state.h"

namespace tranship::home {

Result<pid_t> StartStoneDaemon(const Home& home, const std::string& name, bool restore_mode,
                               const std::string& self_exe) {
  daemon::DaemonLaunch launch;
  launch.args = {"stone", "serve", name};
  if (restore_mode) launch.args.push_back("-R");
  launch.log_path = home.LogPath(name);
  launch.what = fmt::format("The stone '{}'", name);
  return daemon::StartDaemon(launch, self_exe);
}

Result<pid_t> StopStoneProcess(const Home& home, const std::string& name, int timeout_s) {
  StoneState st = ProbeStone(home, name);
  if (st.state == RunState::kStalePid) {
    // The process died without cleaning up (kill -9, power cut): the files only mislead.
    (void)Env::Default()->RemoveFile(home.PidPath(name));
  }
  if (st.state != RunState::kRunning) {
    return Status::NotFound(fmt::format("The stone '{}' is not running.", name));
  }
  pid_t pid = st.process.pid;
  TRANSHIP_RETURN_IF_ERROR(daemon::StopDaemonProcess(pid, fmt::format("The stone '{}'", name),
                                                     home.LogPath(name), timeout_s));
  return pid;
}

}  // namespace tranship::home
