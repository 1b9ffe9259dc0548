#pragma once
// <regex> for the tests. GCC 12 with -fsanitize=address reports a false
// -Wmaybe-uninitialized inside libstdc++'s regex automaton (GCC bug 105616), which
// werror turns into a failed sanitizer build; the warning is silenced for that header
// alone, so it still guards every line of tranship.

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
