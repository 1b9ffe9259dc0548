// The test binaries whose every case needs root (test/needs_root.h) skip when they do
// not run as root: exit 77, which meson counts as skipped, and one line saying what they
// need root for, before any case runs. Run by root, this test runs them as the user
// nobody; by anyone else, as that user.

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/test_util.h"

namespace tranship::test {
namespace {

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Result RunUnprivileged(const std::string& exe) {
  TempDir t;
  std::string out = t / "out";
  const passwd* as = geteuid() == 0 ? getpwnam("nobody") : nullptr;
  if (geteuid() == 0) REQUIRE_MESSAGE(as != nullptr, "no user nobody to run the tests as");
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
    execl(exe.c_str(), exe.c_str(), nullptr);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ReadAll(out)};
}

TEST_CASE("a binary whose cases need root skips without root: exit 77 and one line why") {
  const char* list = std::getenv("TRANSHIP_ROOT_TESTS");
  REQUIRE_MESSAGE(list != nullptr, "TRANSHIP_ROOT_TESTS must name the binaries (meson sets it)");
  std::istringstream in(list);
  int n = 0;
  for (std::string exe; std::getline(in, exe, ':');) {
    n++;
    std::string name = std::filesystem::path(exe).filename();
    Result r = RunUnprivileged(exe);
    INFO(name << ": " << r.out);
    CHECK(r.code == 77);
    CHECK(r.out.starts_with(name + ": skipped, needs root: "));
    CHECK(r.out.find('\n') == r.out.size() - 1);
  }
  CHECK(n == 3);
}

}  // namespace
}  // namespace tranship::test
