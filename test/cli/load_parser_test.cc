// The line format of `tranship load`.

#include <doctest/doctest.h>

#include "cli/load_parser.h"

namespace tranship::cli {

TEST_CASE("PutKeepsTheRestOfTheLineAsValue") {
  Result<LoadLine> l = ParseLoadLine("put user:1   hello  world ");
  REQUIRE(l.ok());
  CHECK(l->kind == LoadLine::Kind::kPut);
  CHECK(l->key == "user:1");
  CHECK(l->value == "  hello  world ");  // only the one separating blank is dropped
}

TEST_CASE("PutWithEmptyValue") {
  Result<LoadLine> l = ParseLoadLine("put k ");
  REQUIRE(l.ok());
  CHECK(l->value.empty());
}

TEST_CASE("DelAndCommit") {
  Result<LoadLine> d = ParseLoadLine("  del k1\r");
  REQUIRE(d.ok());
  CHECK(d->kind == LoadLine::Kind::kDel);
  CHECK(d->key == "k1");
  Result<LoadLine> c = ParseLoadLine("commit  ");
  REQUIRE(c.ok());
  CHECK(c->kind == LoadLine::Kind::kCommit);
}

TEST_CASE("BlankAndCommentLinesAreSkipped") {
  for (const char* line : {"", "   ", "\t", "# put a b", "  #", "\r"}) {
    CAPTURE(line);
    Result<LoadLine> l = ParseLoadLine(line);
    REQUIRE(l.ok());
    CHECK(l->kind == LoadLine::Kind::kSkip);
  }
}

TEST_CASE("BadLinesSayWhatIsWrong") {
  struct Case {
    const char* line;
    const char* why;
  } cases[] = {
      {"pt a b", "unknown command 'pt'"},
      {"put", "needs a KEY"},
      {"put k", "needs a VALUE"},
      {"del", "needs a KEY"},
      {"del a b", "one argument"},
      {"commit now", "no arguments"},
      {"PUT a b", "unknown command"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    Result<LoadLine> l = ParseLoadLine(c.line);
    REQUIRE_FALSE(l.ok());
    CHECK(l.status().message().find(c.why) != std::string::npos);
  }
}

}  // namespace tranship::cli
