#include "cli/load_parser.h"

#include <fmt/format.h>

namespace tranship::cli {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TakeWord(std::string_view* s) {
  size_t i = 0;
  while (i < s->size() && !IsBlank((*s)[i])) i++;
  std::string_view word = s->substr(0, i);
  s->remove_prefix(i);
  return word;
}

void SkipOneBlank(std::string_view* s) {
  if (!s->empty() && IsBlank(s->front())) s->remove_prefix(1);
}

void SkipBlanks(std::string_view* s) {
  while (!s->empty() && IsBlank(s->front())) s->remove_prefix(1);
}

}  // namespace

Result<LoadLine> ParseLoadLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // files from Windows
  std::string_view rest = line;
  SkipBlanks(&rest);
  LoadLine out;
  if (rest.empty() || rest.front() == '#') return out;
  std::string_view verb = TakeWord(&rest);
  if (verb == "commit") {
    SkipBlanks(&rest);
    if (!rest.empty()) return Status::InvalidArgument("'commit' takes no arguments");
    out.kind = LoadLine::Kind::kCommit;
    return out;
  }
  if (verb != "put" && verb != "del") {
    return Status::InvalidArgument(fmt::format(
        "unknown command '{}'; expected 'put KEY VALUE', 'del KEY' or 'commit'", verb));
  }
  SkipBlanks(&rest);
  std::string_view key = TakeWord(&rest);
  if (key.empty()) return Status::InvalidArgument(fmt::format("'{}' needs a KEY", verb));
  out.key = std::string(key);
  if (verb == "del") {
    SkipBlanks(&rest);
    if (!rest.empty()) return Status::InvalidArgument("'del KEY' takes one argument");
    out.kind = LoadLine::Kind::kDel;
    return out;
  }
  if (rest.empty()) return Status::InvalidArgument("'put KEY VALUE' needs a VALUE");
  SkipOneBlank(&rest);  // the value keeps any further blanks
  out.kind = LoadLine::Kind::kPut;
  out.value = std::string(rest);
  return out;
}

}  // namespace tranship::cli
