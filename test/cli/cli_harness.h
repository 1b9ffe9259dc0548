#pragma once
// Runs the built `tranship` binary (path in $TRANSHIP_EXE, set by meson) against a
// temporary TRANSHIP_HOME, capturing exit code, stdout and stderr. The destructor
// kill -9s any stone daemon still running from that home, so a failing test leaves
// no process behind.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "daemon/run_files.h"
#include "test/test_util.h"

namespace tranship::test {

struct RunResult {
  int code = -1;  // exit code; -1 if killed at the deadline or by a signal
  std::string out;
  std::string err;
};

class CliHarness {
 public:
  CliHarness() {
    const char* exe = std::getenv("TRANSHIP_EXE");
    REQUIRE_MESSAGE(exe != nullptr, "TRANSHIP_EXE must name the tranship binary");
    exe_ = exe;
    bin_dir_ = exe_.substr(0, exe_.rfind('/'));
    home_ = dir_.path() + "/home";
    setenv("TRANSHIP_HOME", home_.c_str(), 1);
  }
  ~CliHarness() { KillStones(); }

  const std::string& home() const { return home_; }
  std::string Path(const std::string& rel) const { return home_ + "/" + rel; }
  std::string TempPath(const std::string& name) const { return dir_ / name; }

  // `tranship ARGS...`
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "",
                int timeout_s = 120) {
    return RunProgram(exe_, "tranship", args, input, timeout_s);
  }
  // An alias (startstone, stopstone, copydbf): the symlink in the build directory.
  RunResult RunAlias(const std::string& alias, const std::vector<std::string>& args,
                     const std::string& input = "") {
    return RunProgram(bin_dir_ + "/" + alias, alias, args, input, 120);
  }

  // Starts `tranship ARGS...` in the background with stdout and stderr to `log`.
  pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      Exec(exe_, "tranship", args);
    }
    return pid;
  }
  static int Wait(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

  // The pid in run/NAME.pid, or 0.
  pid_t StonePid(const std::string& name) const {
    Result<daemon::ProcessDescription> d = daemon::ReadPidFile(Path("run/" + name + ".pid"));
    return d.ok() ? d->pid : 0;
  }

  void KillStones() {
    for (const daemon::ProcessDescription& d : daemon::ReadPidFiles(Path("run"))) {
      if (!daemon::IsStoneProcess(d.pid, d.name)) continue;
      kill(d.pid, SIGKILL);
      WaitFor([&] { return ProcessGone(d.pid); });
    }
  }

 private:
  [[noreturn]] static void Exec(const std::string& path, const std::string& argv0,
                                const std::vector<std::string>& args) {
    std::vector<std::string> all = {argv0};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }

  static RunResult RunProgram(const std::string& path, const std::string& argv0,
                              const std::vector<std::string>& args, const std::string& input,
                              int timeout_s) {
    int in[2], out[2], err[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      Exec(path, argv0, args);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    RunResult r;
    size_t written = 0;
    int in_fd = in[1];
    if (input.empty()) {
      close(in_fd);
      in_fd = -1;
    }
    signal(SIGPIPE, SIG_IGN);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        MESSAGE("killed '" << argv0 << "' at its deadline");
        break;
      }
      pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                       {err_open ? err[0] : -1, POLLIN, 0},
                       {in_fd, POLLOUT, 0}};
      if (poll(fds, 3, 100) <= 0) continue;
      char buf[65536];
      for (int i = 0; i < 2; i++) {
        if (fds[i].revents == 0) continue;
        ssize_t n = read(i == 0 ? out[0] : err[0], buf, sizeof(buf));
        if (n > 0) {
          (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
        } else {
          (i == 0 ? out_open : err_open) = false;
        }
      }
      if (in_fd >= 0 && fds[2].revents != 0) {
        ssize_t n = write(in_fd, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n <= 0 || written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
      }
    }
    if (in_fd >= 0) close(in_fd);
    close(out[0]);
    close(err[0]);
    r.code = Wait(pid);
    return r;
  }

  TempDir dir_;
  std::string exe_;
  std::string bin_dir_;
  std::string home_;
};

// True if `s` is exactly one line (ends with its only '\n').
inline bool OneLine(const std::string& s) {
  return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

inline size_t CountLines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace tranship::test
