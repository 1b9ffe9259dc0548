#pragma once
// Runs test/netns/netns-cluster ($TRANSHIP_NETNS_CLUSTER) for the netns tests.

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/shipping/cluster.h"
#include "test/test_util.h"

namespace tranship::test {

inline std::string Env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE(v != nullptr, name << " must be set (meson sets it)");
  return v;
}
inline std::string Script() { return Env("TRANSHIP_NETNS_CLUSTER"); }

// Runs netns-cluster ARGS... to completion (stdout and stderr together); as the user
// `as` (its uid, gid and no other groups) unless it is null.
inline Proc RunScript(const std::vector<std::string>& args, const passwd* as = nullptr) {
  TempDir t;
  std::string out = t / "out";
  std::string path = Script();
  std::vector<std::string> all = {"netns-cluster"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    if (as != nullptr &&
        (setgroups(0, nullptr) != 0 || setgid(as->pw_gid) != 0 || setuid(as->pw_uid) != 0)) {
      _exit(125);
    }
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ReadAll(out)};
}

inline bool NamespaceExists(const std::string& name) {
  return std::filesystem::exists("/run/netns/" + name);
}

}  // namespace tranship::test
