// scripts/bootstrap and scripts/fuzz on each Debian release: the clang they use is the
// release's own with its runtime (clang-N and libclang-rt-N-dev), chosen in one place,
// scripts/lib/clang-version, from the package index. The index is a stand-in apt-cache
// that answers as Debian 12's or 13's would (TRANSHIP_APT_CACHE), and bootstrap runs
// with stand-ins for dpkg-query, apt-get and sudo that record what it would install:
// nothing is installed.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

// What apt-cache knows, one package a line: NAME CANDIDATE [DEPENDENCY...], CANDIDATE
// "(none)" for a package known but not installable.
// Debian 12 as this machine's index has it (bookworm, bookworm-updates, security): the
// default clang is 14, and newer ones with their runtimes are offered beside it.
const char* kBookworm =
    "clang 1:14.0-55.7~deb12u1 clang-14\n"
    "clang-13 1:13.0.1-11+b2\n"
    "clang-14 1:14.0.6-12\n"
    "clang-15 1:15.0.6-4+b1\n"
    "clang-16 1:16.0.6-15~deb12u1\n"
    "clang-19 1:19.1.7-3~deb12u1\n"
    "clang-22 1:22.1.8-1~deb12u1\n"
    "libclang-rt-14-dev 1:14.0.6-12\n"
    "libclang-rt-15-dev (none)\n"
    "libclang-rt-16-dev 1:16.0.6-15~deb12u1\n"
    "libclang-rt-19-dev 1:19.1.7-3~deb12u1\n"
    "libclang-rt-22-dev 1:22.1.8-1~deb12u1\n";
// Debian 13: the default clang is 19, there is no clang 14; a newer clang a point release
// may add beside it does not change the choice.
const char* kTrixie =
    "clang 1:19.0-63 clang-19\n"
    "clang-19 1:19.1.7-3+b1\n"
    "clang-22 1:22.1.7-1~deb13u1\n"
    "libclang-rt-19-dev 1:19.1.7-3+b1\n"
    "libclang-rt-22-dev 1:22.1.7-1~deb13u1\n";

// A stand-in apt-cache answering `depends`, `pkgnames PREFIX` and `policy NAME...` (in
// apt-cache's own output format) from the file DIR/index, and a way to change the index.
class FakeApt {
 public:
  explicit FakeApt(const std::string& index) {
    SetIndex(index);
    WriteAll(tmp_ / "apt-cache",
             "#!/bin/sh\n"
             "index='" + tmp_ / "index" + "'\n"
             "cmd=$1; shift\n"
             "case $cmd in\n"
             "  depends)\n"
             "    awk -v p=\"$1\" '$1 == p {print p; for (i = 3; i <= NF; i++) print \"  Depends: \" $i;"
             " found = 1} END {exit !found}' \"$index\" || { echo 'E: No packages found' >&2; exit 100; } ;;\n"
             "  pkgnames) awk -v p=\"$1\" 'index($1, p) == 1 {print $1}' \"$index\" ;;\n"
             "  policy)\n"
             "    for n in \"$@\"; do\n"
             "      awk -v p=\"$n\" '$1 == p {print p \":\"; print \"  Installed: (none)\";"
             " print \"  Candidate: \" $2; print \"  Version table:\"}' \"$index\"\n"
             "    done ;;\n"
             "  *) exit 100 ;;\n"
             "esac\n");
    std::filesystem::permissions(tmp_ / "apt-cache", std::filesystem::perms::owner_all);
  }
  void SetIndex(const std::string& index) { WriteAll(tmp_ / "index", index); }
  std::string apt_cache() const { return tmp_ / "apt-cache"; }
  std::string Path(const std::string& name) const { return tmp_ / name; }

 private:
  TempDir tmp_;
};

// Runs a shell command line; its exit code and its stdout and stderr together.
Proc Sh(const std::string& cmd) {
  TempDir t;
  int st = std::system(("(" + cmd + ") >'" + (t / "out") + "' 2>&1").c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ReadAll(t / "out")};
}

Proc ClangVersion(const FakeApt& apt) {
  return Sh("TRANSHIP_APT_CACHE='" + apt.apt_cache() + "' '" + Script("lib/clang-version") + "'");
}

TEST_CASE("clang-version: the release's default clang, when its runtime can be installed") {
  FakeApt apt(kBookworm);
  Proc p = ClangVersion(apt);
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(p.out == "14\n");  // not 22, the newest Debian 12 offers
  apt.SetIndex(kTrixie);
  p = ClangVersion(apt);
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(p.out == "19\n");
}

TEST_CASE("clang-version: without a default clang with its runtime, the newest pair") {
  FakeApt apt(
      "clang 1:16.0-57 clang-16\n"  // a default whose runtime is not installable
      "clang-16 1:16.0.6-1\n"
      "libclang-rt-16-dev (none)\n"
      "clang-15 1:15.0.6-4\n"
      "libclang-rt-15-dev 1:15.0.6-4\n"
      "clang-18 1:18.1.8-1\n"  // no runtime at all
      "clang-9 1:9.0.1-20\n"
      "libclang-rt-9-dev 1:9.0.1-20\n");
  Proc p = ClangVersion(apt);
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(p.out == "15\n");
  // No `clang` package at all: the same.
  apt.SetIndex("clang-9 1:9.0.1-20\nlibclang-rt-9-dev 1:9.0.1-20\n"
               "clang-11 1:11.0.1-2\nlibclang-rt-11-dev 1:11.0.1-2\n");
  p = ClangVersion(apt);
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(p.out == "11\n");
}

TEST_CASE("clang-version: an empty package index offers no clang: exit 1, nothing printed") {
  FakeApt apt("");
  Proc p = ClangVersion(apt);
  CHECK(p.code == 1);
  CHECK(p.out.empty());
  apt.SetIndex("clang-14 (none)\nlibclang-rt-14-dev (none)\n");
  p = ClangVersion(apt);
  CHECK(p.code == 1);
  CHECK(p.out.empty());
}

// Runs scripts/bootstrap with stand-ins for dpkg-query (the packages in DIR/installed are
// installed), apt-get (records each call in DIR/apt-get.log; `update` replaces the index
// with DIR/index.updated when that exists) and sudo, first on PATH.
Proc Bootstrap(const FakeApt& apt, const std::string& installed) {
  std::string bin = apt.Path("bin");
  std::filesystem::create_directories(bin);
  WriteAll(apt.Path("installed"), installed);
  WriteAll(bin + "/dpkg-query",
           "#!/bin/sh\n"
           "for p; do :; done\n"
           "grep -qx \"$p\" '" + apt.Path("installed") + "' && printf 'install ok installed'\n"
           "exit 0\n");
  WriteAll(bin + "/apt-get",
           "#!/bin/sh\n"
           "echo \"$*\" >>'" + apt.Path("apt-get.log") + "'\n"
           "if [ \"$1\" = update ] && [ -f '" + apt.Path("index.updated") + "' ]; then\n"
           "  cp '" + apt.Path("index.updated") + "' '" + apt.Path("index") + "'\n"
           "fi\n");
  WriteAll(bin + "/sudo", "#!/bin/sh\nexec \"$@\"\n");
  for (const char* f : {"dpkg-query", "apt-get", "sudo"}) {
    std::filesystem::permissions(bin + "/" + f, std::filesystem::perms::owner_all);
  }
  return Sh("PATH='" + bin + "':\"$PATH\" TRANSHIP_APT_CACHE='" + apt.apt_cache() + "' '" +
            Script("bootstrap") + "'");
}

const std::string kOtherPackages =
    "meson ninja-build pkg-config g++ libuv1-dev libssl-dev libzstd-dev libfmt-dev doctest-dev "
    "openssl zstd util-linux procps iproute2 nftables shellcheck";

std::string Lines(const std::string& words) {
  std::string out;
  for (char c : words) out += c == ' ' ? '\n' : c;
  return out + "\n";
}

TEST_CASE("bootstrap installs the release's clang-N and libclang-rt-N-dev") {
  FakeApt apt(kTrixie);
  Proc p = Bootstrap(apt, Lines(kOtherPackages));
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(p.out == "bootstrap: installing clang-19 libclang-rt-19-dev\n");
  CHECK(ReadAll(apt.Path("apt-get.log")) ==
        "update -qq\ninstall -y -qq --no-install-recommends clang-19 libclang-rt-19-dev\n");

  FakeApt bookworm(kBookworm);
  p = Bootstrap(bookworm, Lines(kOtherPackages + " clang-14"));
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(ReadAll(bookworm.Path("apt-get.log")) ==
        "update -qq\ninstall -y -qq --no-install-recommends libclang-rt-14-dev\n");

  // Everything present: nothing runs apt-get.
  p = Bootstrap(bookworm, Lines(kOtherPackages + " clang-14 libclang-rt-14-dev"));
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(p.out.empty());
  CHECK(ReadAll(bookworm.Path("apt-get.log")) ==
        "update -qq\ninstall -y -qq --no-install-recommends libclang-rt-14-dev\n");
}

TEST_CASE("bootstrap on a fresh machine: an empty package index is updated once, then used") {
  FakeApt apt("");
  WriteAll(apt.Path("index.updated"), kTrixie);
  Proc p = Bootstrap(apt, "");
  CHECK_MESSAGE(p.code == 0, p.out);
  CHECK(ReadAll(apt.Path("apt-get.log")) ==
        "update -qq\ninstall -y -qq --no-install-recommends " + kOtherPackages +
            " clang-19 libclang-rt-19-dev\n");

  // Still nothing after the update: bootstrap says so and installs nothing.
  FakeApt none("");
  p = Bootstrap(none, "");
  CHECK(p.code == 1);
  CHECK_MESSAGE(Contains(p.out, "bootstrap: the package index offers no clang-N with libclang-rt-N-dev"),
                p.out);
  CHECK(ReadAll(none.Path("apt-get.log")) == "update -qq\n");
}

TEST_CASE("bootstrap and fuzz take the clang from scripts/lib/clang-version alone") {
  for (const char* s : {"bootstrap", "fuzz"}) {
    std::string text = ReadAll(Script(s));
    CHECK_MESSAGE(Contains(text, "lib/clang-version"), s);
    for (const char* named : {"clang-1", "clang-2", "libclang-rt-1", "CC=clang ", "CXX=clang++ "}) {
      CHECK_MESSAGE(!Contains(text, named), s << " names a clang itself: " << named);
    }
  }
  CHECK(Contains(ReadAll(Script("fuzz")), "CC=clang-$clang CXX=clang++-$clang meson setup"));
}

}  // namespace
}  // namespace tranship::test
