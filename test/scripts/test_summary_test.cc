// scripts/lib/test-summary, scripts/test's closing line: the counts of every run's
// summary summed, in the form CI reads ("tests: N passed, N failed") and then how many
// were skipped (exit 77: the tests that need root, when not run as root).

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

Proc Summary(const std::string& log) {
  TempDir t;
  WriteAll(t / "log", log);
  int st = std::system(("'" + Script("lib/test-summary") + "' '" + (t / "log") + "' >'" + (t / "out") +
                        "' 2>&1").c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ReadAll(t / "out")};
}

// Two meson test runs as meson 1.0 prints them (as a user who is not root: two tests of
// each skipped), then the fuzz run's lines as scripts/test appends them.
const char* kLog =
    "19/40 tranship:integration / shipping_disk_full   SKIP             0.02s   exit status 77\n"
    "30/40 tranship:integration / netns_script         SKIP             0.02s   exit status 77\n"
    "40/40 tranship:integration / security             FAIL            39.14s   exit status 1\n"
    "\n"
    "Ok:                 37  \n"
    "Expected Fail:      0   \n"
    "Fail:               1   \n"
    "Unexpected Pass:    0   \n"
    "Skipped:            2   \n"
    "Timeout:            0   \n"
    "\n"
    "Full log written to /tmp/build/meson-logs/testlog.txt\n"
    " 4/8 tranship:chaos / disk_full_chaos      SKIP              0.01s   exit status 77\n"
    "Ok:                 6   \n"
    "Expected Fail:      1   \n"
    "Fail:               0   \n"
    "Unexpected Pass:    1   \n"
    "Skipped:            2   \n"
    "Timeout:            1   \n"
    "Ok: 6\n"
    "Fail: 0\n";

TEST_CASE("test-summary: passed, failed and skipped over every run, in the form CI reads") {
  Proc p = Summary(kLog);
  CHECK_MESSAGE(p.code == 0, p.out);
  // Failed: 1 Fail, 1 Unexpected Pass, 1 Timeout; an expected failure is not one.
  CHECK(p.out == "tests: 49 passed, 3 failed, 4 skipped\n");
  CHECK(p.out.starts_with("tests: 49 passed, 3 failed"));
}

TEST_CASE("test-summary: nothing run is all zeros; no file is a usage error") {
  Proc p = Summary("");
  CHECK(p.code == 0);
  CHECK(p.out == "tests: 0 passed, 0 failed, 0 skipped\n");
  TempDir t;
  int st = std::system(("'" + Script("lib/test-summary") + "' >'" + (t / "out") + "' 2>&1").c_str());
  CHECK(WEXITSTATUS(st) == 2);
}

}  // namespace
}  // namespace tranship::test
