#pragma once
// The line format of `tranship load NAME < FILE`:
//
//   put KEY VALUE    # VALUE is the rest of the line after the blank that follows KEY
//   del KEY
//   commit           # ends a transaction
//
// Blank lines and lines starting with '#' are skipped. Keys contain no blanks.

#include <string>
#include <string_view>

#include "base/status.h"

namespace tranship::cli {

struct LoadLine {
  enum class Kind { kSkip, kPut, kDel, kCommit };
  Kind kind = Kind::kSkip;
  std::string key;
  std::string value;
};

// Parses one line (without its '\n'). Errors say what is wrong, without a line number.
Result<LoadLine> ParseLoadLine(std::string_view line);

}  // namespace tranship::cli
