#pragma once
// Runs the operator scripts (scripts/warm-standby, scripts/watchdog) as real processes on
// the hosts of a Cluster (test/shipping/cluster.h): each host is a TRANSHIP_HOME of its
// own. $TRANSHIP_SCRIPTS names the scripts directory; the scripts find the tranship
// binary ($TRANSHIP_EXE) through TRANSHIP_BIN, as an operator's crontab would set it.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/shipping/cluster.h"
#include "test/test_util.h"

namespace tranship::test {

inline std::string ScriptsDir() {
  const char* d = std::getenv("TRANSHIP_SCRIPTS");
  REQUIRE_MESSAGE(d != nullptr, "TRANSHIP_SCRIPTS must name the scripts directory");
  const char* exe = std::getenv("TRANSHIP_EXE");
  REQUIRE_MESSAGE(exe != nullptr, "TRANSHIP_EXE must name the tranship binary");
  setenv("TRANSHIP_BIN", exe, 1);
  return d;
}
inline std::string Script(const std::string& rel) { return ScriptsDir() + "/" + rel; }
inline std::string TranshipExe() {
  const char* exe = std::getenv("TRANSHIP_EXE");
  REQUIRE_MESSAGE(exe != nullptr, "TRANSHIP_EXE must name the tranship binary");
  return exe;
}

// Runs scripts/REL ARGS... on `host` to completion; stdout and stderr together.
inline Proc RunScript(const Host& host, const std::string& rel,
                      const std::vector<std::string>& args) {
  Host runner(Script(rel), host.root());
  return runner.Run(args, std::filesystem::path(rel).filename());
}

// Starts scripts/REL ARGS... on `host` in the background, output to `log`.
inline pid_t SpawnScript(const Host& host, const std::string& rel,
                         const std::vector<std::string>& args, const std::string& log) {
  Host runner(Script(rel), host.root());
  return runner.Spawn(args, log, std::filesystem::path(rel).filename());
}

// The exit code of child `pid` if it exits within `timeout`, else -2.
inline int WaitExit(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  int st = 0;
  bool done = WaitFor([&] { return waitpid(pid, &st, WNOHANG) == pid; }, timeout);
  if (!done) return -2;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Kills a child of the test that is still running when the scope ends (a failed check
// must not leave a loop behind that restarts what the Cluster stops).
struct KillOnExit {
  pid_t pid;
  ~KillOnExit() {
    if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// kill -9 of a daemon (not a child of the test) and wait until it is gone.
inline void KillNineDaemon(pid_t pid) {
  REQUIRE(pid > 0);
  kill(pid, SIGKILL);
  REQUIRE(WaitFor([&] { return ProcessGone(pid); }));
}

// A stand-in for tranship that stops at a gate (a file) before running the real binary,
// so that a test can hold a script inside its locked section: the script's first call
// of tranship creates GATE/entered, and it goes on once GATE/open exists.
inline std::string GatedTranship(const std::string& gate_dir) {
  std::filesystem::create_directories(gate_dir);
  std::string path = gate_dir + "/tranship";
  WriteAll(path, "#!/bin/sh\n"
                 "touch '" + gate_dir + "/entered'\n"
                 "while [ ! -e '" + gate_dir + "/open' ]; do sleep 0.02; done\n"
                 "exec '" + TranshipExe() + "' \"$@\"\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `tranship load` input: `n` transactions of one `value_bytes` value each, so that a
// stone with STN_TRAN_LOG_SIZES = 1 fills about one tranlog per 1 MB.
inline std::string BigLoad(int n, size_t value_bytes, const std::string& key_prefix = "k") {
  std::string s;
  std::string value(value_bytes, 'v');
  for (int i = 0; i < n; i++) s += "put " + key_prefix + std::to_string(i) + " " + value + "\ncommit\n";
  return s;
}

// `tranship load STONE < text` on `host`.
inline Proc Load(const Host& host, const std::string& stone, const std::string& text) {
  std::string input = host.Path(".load-input");
  WriteAll(input, text);
  Host sh("/bin/sh", host.root());
  return sh.Run({"-c", "exec '" + TranshipExe() + "' load '" + stone + "' < '" + input + "'"}, "sh");
}

// Creates stone `name` on `host` with 1 MB tranlogs and starts it.
inline void StartSmallLogStone(Host& host, const std::string& name) {
  Proc c = host.Run({"stone", "create", name});
  REQUIRE_MESSAGE(c.code == 0, c.out);
  std::string conf = host.Path("etc/conf.d/" + name + ".conf");
  std::string text = ReadAll(conf);
  size_t at = text.find("STN_TRAN_LOG_SIZES = 100;");
  REQUIRE(at != std::string::npos);
  text.replace(at, 25, "STN_TRAN_LOG_SIZES = 1;");
  WriteAll(conf, text);
  Proc s = host.Run({"stone", "start", name});
  REQUIRE_MESSAGE(s.code == 0, s.out);
}

}  // namespace tranship::test
