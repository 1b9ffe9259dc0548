// The JSON reader behind `tranship status`: what it accepts, what it refuses, and that a
// document written by JsonWriter reads back the same.

#include <doctest/doctest.h>

#include "base/json.h"
#include "base/json_parse.h"

namespace tranship::cli {
namespace {

TEST_CASE("ParsesAStatusFile") {
  Result<JsonValue> v = ParseJson(
      R"({"pid":12,"stone":"prod","tls":true,"primary_end":{"file":3,"offset":18446744073709551615},)"
      R"("receivers":[{"peer":"127.0.0.1:4000","lag_seconds":0.25},{"lag_seconds":null}]})");
  REQUIRE(v.ok());
  CHECK(v->Uint("pid") == 12);
  CHECK(v->Str("stone") == "prod");
  CHECK(v->Bool("tls"));
  CHECK(v->Get("primary_end")->Uint("offset") == UINT64_MAX);  // 64 bits survive exactly
  const JsonValue* r = v->Get("receivers");
  REQUIRE(r->items.size() == 2);
  CHECK(r->items[0].Str("peer") == "127.0.0.1:4000");
  CHECK(*r->items[0].Num("lag_seconds") == 0.25);
  CHECK(!r->items[1].Num("lag_seconds"));
  CHECK(v->Str("missing", "-") == "-");
}

TEST_CASE("StringEscapesAndUnicode") {
  Result<JsonValue> v = ParseJson(R"(["a\"b\\c\n", "\u00e9\ud83d\ude00", "/\/"])");
  REQUIRE(v.ok());
  CHECK(v->items[0].text == "a\"b\\c\n");
  CHECK(v->items[1].text == "\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v->items[2].text == "//");
}

TEST_CASE("MalformedDocumentsAreRefusedWithTheOffset") {
  for (const char* bad : {"", "{", "{\"a\" 1}", "[1,]", "[1 2]", "\"abc", "01x", "-", "1.",
                          "tru", "{\"a\":1} x", "\"\x01\"", "[\"\\q\"]"}) {
    Result<JsonValue> v = ParseJson(bad);
    CHECK_MESSAGE(!v.ok(), bad);
    if (!v.ok()) CHECK(v.status().message().starts_with("bad JSON at byte "));
  }
  std::string deep(100, '[');
  CHECK(!ParseJson(deep + std::string(100, ']')).ok());
}

TEST_CASE("WrittenDocumentsReadBackUnchanged") {
  JsonWriter w;
  w.BeginObject();
  w.Key("s"); w.String("tab\there \"quoted\"");
  w.Key("n"); w.Uint(1795244393991241);
  w.Key("d"); w.Double(0.5);
  w.Key("a"); w.BeginArray(); w.Bool(false); w.Null(); w.EndArray();
  w.EndObject();
  Result<JsonValue> v = ParseJson(w.str());
  REQUIRE(v.ok());
  JsonWriter again;
  WriteJson(&again, *v);
  CHECK(again.str() == w.str());
}

}  // namespace
}  // namespace tranship::cli
