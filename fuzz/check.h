#pragma once
// FUZZ_CHECK: a property a fuzz target asserts about what a decoder returned (a round
// trip, a position that never goes back). It fails in every build, NDEBUG or not, by
// aborting, which libFuzzer and the replay driver both report as a crash.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
