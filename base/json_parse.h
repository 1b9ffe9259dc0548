#pragma once
// A small JSON reader, beside the writer in base/json.h, for the daemons' status files
// (run/*.status), which `tranship status` shows. It accepts standard JSON (RFC 8259) of
// bounded depth; numbers keep their text so 64-bit counters survive exactly.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/status.h"

namespace tranship {

struct JsonMember;

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;  // a string's value, or a number as written
  std::vector<JsonValue> items;                              // kArray
  std::vector<JsonMember> members;                           // kObject, in file order

  bool IsNull() const { return kind == Kind::kNull; }
  // The member `key` of an object, or nullptr.
  const JsonValue* Get(std::string_view key) const;
  // Conveniences for a member: its value, or `fallback` when absent or of another kind.
  std::string Str(std::string_view key, std::string_view fallback = "") const;
  uint64_t Uint(std::string_view key, uint64_t fallback = 0) const;
  std::optional<double> Num(std::string_view key) const;
  bool Bool(std::string_view key, bool fallback = false) const;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// InvalidArgument naming the byte offset when `text` is not one JSON value.
Result<JsonValue> ParseJson(std::string_view text);

// Writes `v` with `w` (to embed a parsed document in --json output).
void WriteJson(JsonWriter* w, const JsonValue& v);

}  // namespace tranship
