#pragma once
// Command-line arguments of one tranship command: positional words and flags.
// Flags are "-R", "--json", or take a value ("--writers 4" / "--writers=4").

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tranship::cli {

struct ArgSpec {
  std::string_view usage;        // "tranship stone start NAME [-R]"
  size_t min_positional = 0;
  size_t max_positional = 0;
  std::vector<std::string_view> bool_flags;
  std::vector<std::string_view> value_flags;
  // Once this many positional words are seen the rest are positional too, flags or not
  // (admin verbs take their own flags).
  size_t raw_after = SIZE_MAX;
};

struct Args {
  std::vector<std::string> positional;
  std::set<std::string, std::less<>> flags;
  std::map<std::string, std::string, std::less<>> values;

  bool Has(std::string_view flag) const { return flags.count(flag) > 0 || values.count(flag) > 0; }
  std::string Value(std::string_view flag, std::string_view fallback = "") const;
  // The flag's value as a number; InvalidArgument naming the flag if it is not one.
  Result<uint64_t> Number(std::string_view flag, uint64_t fallback) const;
};

// Splits `argv` by `spec`. Errors are one line ending with the usage.
Result<Args> ParseArgs(const ArgSpec& spec, const std::vector<std::string>& argv);

}  // namespace tranship::cli
