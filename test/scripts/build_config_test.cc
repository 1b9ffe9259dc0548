// The build is configured the same with and without cmake installed: `meson setup` of
// this source tree, once with the PATH the test runs with and once with a PATH from
// which cmake is gone, gives every target the same compile arguments (doctest's
// included) and finds the same dependencies. meson finds a dependency through its CMake
// package only where cmake is installed, so one found that way would make the tests of
// a fresh machine (no cmake) differ from CI's.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "test/test_util.h"

namespace tranship::test {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE(v != nullptr, name << " must be set (meson sets it)");
  return v;
}

int Run(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// A directory of symlinks to every program on `path` (the first of each name, as the
// shell would find it) except cmake.
std::string PathWithoutCmake(const TempDir& tmp, const std::string& path) {
  std::string bin = tmp / "bin-without-cmake";
  std::filesystem::create_directories(bin);
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = e.path().filename();
      if (name == "cmake" || std::filesystem::exists(std::filesystem::symlink_status(bin + "/" + name))) continue;
      std::filesystem::create_symlink(e.path(), bin + "/" + name, ec);
    }
  }
  return bin;
}

// What the configuration gives each target: one line per target and source language,
// its compile arguments with the build directory's path replaced by @BUILD@; then the
// dependencies meson found, by name.
const char* kDescribe = R"PY(
import json, subprocess, sys
meson, build = sys.argv[1], sys.argv[2]
def get(what):
    return json.loads(subprocess.check_output([meson, 'introspect', build, what]))
for t in sorted(get('--targets'), key=lambda t: t['id']):
    for s in t['target_sources']:
        args = ' '.join(a.replace(build, '@BUILD@') for a in s['parameters'])
        print('target', t['name'], s['language'], args)
for d in sorted(get('--dependencies'), key=lambda d: d['name']):
    print('dependency', d['name'], ' '.join(d['compile_args']))
)PY";

std::string Configure(const TempDir& tmp, const std::string& name, const std::string& path) {
  std::string build = tmp / name;
  std::string log = tmp / (name + ".log");
  int rc = Run("PATH='" + path + "' '" + Env("MESON") + "' setup '" + build + "' '" +
               Env("TRANSHIP_SOURCE_ROOT") + "' >'" + log + "' 2>&1");
  REQUIRE_MESSAGE(rc == 0, "meson setup " << name << ": " << ReadAll(log));
  CHECK_MESSAGE(ReadAll(log).find("Has header \"doctest/doctest.h\" : YES") != std::string::npos,
                ReadAll(log));
  WriteAll(tmp / "describe.py", kDescribe);
  std::string out = tmp / (name + ".described");
  REQUIRE(Run("python3 '" + (tmp / "describe.py") + "' '" + Env("MESON") + "' '" + build + "' >'" + out +
              "' 2>&1") == 0);
  return ReadAll(out);
}

TEST_CASE("meson setup configures the same build with and without cmake on PATH") {
  TempDir tmp;
  std::string path = Env("PATH");
  std::string without = PathWithoutCmake(tmp, path);
  REQUIRE(Run("PATH='" + without + "' command -v cmake >/dev/null") != 0);
  bool have_cmake = Run("command -v cmake >/dev/null") == 0;
  if (!have_cmake) MESSAGE("cmake is not installed here: both runs are without it");

  std::string with_cmake = Configure(tmp, "with-cmake", path);
  std::string without_cmake = Configure(tmp, "without-cmake", without);
  CHECK(with_cmake.find("target test_main cpp ") != std::string::npos);
  // Line by line, so that a failure names what differs.
  std::istringstream a(with_cmake), b(without_cmake);
  std::set<std::string> only_with, only_without;
  for (std::string l; std::getline(a, l);) only_with.insert(l);
  for (std::string l; std::getline(b, l);) {
    if (!only_with.erase(l)) only_without.insert(l);
  }
  for (const std::string& l : only_with) CHECK_MESSAGE(false, "only with cmake: " << l);
  for (const std::string& l : only_without) CHECK_MESSAGE(false, "only without cmake: " << l);
}

}  // namespace
}  // namespace tranship::test
