// main() of the test binaries whose every case needs root (test/needs_root.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include "test/needs_root.h"

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::string name = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "test";
    std::fprintf(stderr, "%s: skipped, needs root: %s\n", name.c_str(), tranship::test::kNeedsRoot);
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
