#include "cli/args.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>

namespace tranship::cli {
namespace {

bool Contains(const std::vector<std::string_view>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Status Usage(const ArgSpec& spec, std::string_view what) {
  return Status::InvalidArgument(fmt::format("{}. Usage: {}", what, spec.usage));
}

}  // namespace

std::string Args::Value(std::string_view flag, std::string_view fallback) const {
  auto it = values.find(flag);
  return it == values.end() ? std::string(fallback) : it->second;
}

Result<uint64_t> Args::Number(std::string_view flag, uint64_t fallback) const {
  auto it = values.find(flag);
  if (it == values.end()) return fallback;
  uint64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return Status::InvalidArgument(
        fmt::format("{} needs a whole number, not '{}'", flag, s));
  }
  return v;
}

Result<Args> ParseArgs(const ArgSpec& spec, const std::vector<std::string>& argv) {
  Args args;
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); i++) {
    const std::string& a = argv[i];
    if (args.positional.size() >= spec.raw_after) only_positional = true;
    if (only_positional || a.size() < 2 || a[0] != '-') {
      args.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (size_t eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    if (Contains(spec.bool_flags, name) && !inline_value) {
      args.flags.insert(name);
    } else if (Contains(spec.value_flags, name)) {
      if (inline_value) {
        args.values[name] = *inline_value;
      } else if (i + 1 < argv.size()) {
        args.values[name] = argv[++i];
      } else {
        return Usage(spec, fmt::format("Option '{}' needs a value", name));
      }
    } else {
      return Usage(spec, fmt::format("Unknown option '{}'", a));
    }
  }
  if (args.positional.size() < spec.min_positional) {
    return Usage(spec, "Missing arguments");
  }
  if (args.positional.size() > spec.max_positional) {
    return Usage(spec, fmt::format("Unexpected argument '{}'",
                                   args.positional[spec.max_positional]));
  }
  return args;
}

}  // namespace tranship::cli
