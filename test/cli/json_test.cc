// The JSON writer behind `tranship status --json`.

#include <doctest/doctest.h>

#include "base/json.h"

namespace tranship::cli {

TEST_CASE("ArrayOfObjectsHasCommasInTheRightPlaces") {
  JsonWriter w;
  w.BeginArray();
  for (int i = 0; i < 2; i++) {
    w.BeginObject();
    w.Key("name");
    w.String("prod");
    w.Key("pid");
    w.Int(i);
    w.Key("port");
    w.Null();
    w.Key("ok");
    w.Bool(i == 1);
    w.EndObject();
  }
  w.EndArray();
  CHECK(w.str() ==
        R"([{"name":"prod","pid":0,"port":null,"ok":false},)"
        R"({"name":"prod","pid":1,"port":null,"ok":true}])");
}

TEST_CASE("EmptyContainers") {
  JsonWriter w;
  w.BeginArray();
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.EndArray();
  CHECK(w.str() == "[{},[]]");
}

TEST_CASE("StringsAreEscaped") {
  JsonWriter w;
  w.String(std::string("a\"b\\c\nd\te\x01\x7f\xc3\xa9", 13));
  CHECK(w.str() == "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\xc3\xa9\"");
}

TEST_CASE("LargeNumbers") {
  JsonWriter w;
  w.BeginArray();
  w.Uint(UINT64_MAX);
  w.Int(INT64_MIN);
  w.EndArray();
  CHECK(w.str() == "[18446744073709551615,-9223372036854775808]");
}

}  // namespace tranship::cli
