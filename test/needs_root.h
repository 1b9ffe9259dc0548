#pragma once
// The test binaries whose every case needs root (mounting a file system, network
// namespaces) are linked with test_main_root.cc instead of test_main.cc: run by anyone
// else, such a binary prints one line saying what it needs root for and exits 77, which
// meson counts as a skipped test (never a failure); as root (as CI runs) it runs its
// cases. Each such binary defines kNeedsRoot.

namespace tranship::test {

// What the binary's cases need root for, e.g. "mounts a size-limited tmpfs".
extern const char* const kNeedsRoot;

}  // namespace tranship::test
