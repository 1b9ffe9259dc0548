#pragma once
// Launching a tranship daemon and hearing back from it: fork, exec, a new session, the
// readiness pipe. The daemon's "OK" or "ERR" goes from its ReadinessNotifier through the
// pipe to StartDaemon in the starting command, which prints it to the operator.
//
// `startstone NAME` (and startlogsender, startlogreceiver) fork and exec this binary as
// the daemon's serve command (`tranship stone serve NAME --notify-fd 3`, `tranship
// logsender serve ... --notify-fd 3`) in a new session, stdin and stdout on /dev/null,
// stderr appended to the daemon's log. The child sets itself up, writes its pid file
// under run/ (run_files.h) and, once it serves, sends "OK" through the notify pipe. If it
// fails first it sends "ERR <one line>" instead; if it dies, the pipe's EOF tells the
// parent. So the parent returns exactly when the daemon is usable or certainly is not,
// without sleeping. How each daemon stops is in its body's header (stone/daemon.h,
// logsender/daemon.h, logreceiver/daemon.h); StopDaemonProcess sends the signal and
// waits until the whole process is gone.

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace tranship::daemon {

class ReadinessNotifier;

// How one daemon is launched.
struct DaemonLaunch {
  // The daemon's arguments after argv[0] ("stone", "serve", NAME, ...); the launcher
  // appends "--notify-fd 3".
  std::vector<std::string> args;
  std::string log_path;  // the daemon's stderr is appended here
  // Names the daemon in messages: "The stone 'prod'", "The logsender on port 5000".
  std::string what;
  // Set in the daemon's environment only (not in the caller's).
  std::vector<std::pair<std::string, std::string>> env;
};

// The environment variable through which a start command hands a literal -Q passphrase
// to its daemon: a command line is visible to every user through ps, an environment only
// to the process's owner.
inline constexpr char kDaemonPassphraseEnv[] = "TRANSHIP_DAEMON_KEY_PASSPHRASE";

// In the daemon, once -Q is resolved: overwrites the value of kDaemonPassphraseEnv where
// the kernel shows the process's environment (/proc/PID/environ) and unsets it.
void ForgetDaemonPassphrase();

// Launches the daemon and waits for its readiness report. Returns its pid.
Result<pid_t> StartDaemon(const DaemonLaunch& launch, const std::string& self_exe);

// Sends SIGTERM to `pid` and waits (polling, up to `timeout_s`) until it is gone.
// TimedOut names the log and the kill -9 that would force it.
Status StopDaemonProcess(pid_t pid, const std::string& what, const std::string& log_path,
                         int timeout_s);

// Tells whoever started a daemon how the start went, once. With fd < 0 (--foreground)
// readiness goes to stdout and a failure is left to the caller (stderr).
class ReadinessNotifier {
 public:
  explicit ReadinessNotifier(int fd) : fd_(fd) {}
  ~ReadinessNotifier() { CloseFd(); }
  ReadinessNotifier(const ReadinessNotifier&) = delete;
  ReadinessNotifier& operator=(const ReadinessNotifier&) = delete;

  // `line` is what a foreground daemon prints ("The stone is accepting logins on ...").
  void Ready(const std::string& line);
  // Only a failure before readiness goes to the starter; later ones are just logged.
  void Failed(const std::string& line);
  bool reported() const { return reported_; }

 private:
  void Send(const std::string& msg);
  void CloseFd();
  int fd_;
  bool reported_ = false;
};

}  // namespace tranship::daemon
