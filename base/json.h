#pragma once
// A tiny JSON writer for `--json` output: enough for arrays of flat objects, with
// correct string escaping. Commas are inserted automatically.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace tranship {

class JsonWriter {
 public:
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  // Inside an object: the key of the next value.
  void Key(std::string_view k) {
    Separate();
    AppendString(k);
    out_ += ':';
    after_key_ = true;
  }
  void String(std::string_view s) {
    Separate();
    AppendString(s);
  }
  void Int(int64_t v) {
    Separate();
    out_ += fmt::format("{}", v);
  }
  void Uint(uint64_t v) {
    Separate();
    out_ += fmt::format("{}", v);
  }
  // Finite numbers only (JSON has no NaN or infinity); printed with enough digits to
  // read back the same value.
  void Double(double v) {
    Separate();
    out_ += fmt::format("{}", v);
  }
  // A number already in JSON form (from a parsed document), written as is.
  void Number(std::string_view json_number) {
    Separate();
    out_ += json_number;
  }
  void Bool(bool v) {
    Separate();
    out_ += v ? "true" : "false";
  }
  void Null() {
    Separate();
    out_ += "null";
  }

  const std::string& str() const { return out_; }

 private:
  void Open(char c) {
    Separate();
    out_ += c;
    first_.push_back(true);
  }
  void Close(char c) {
    out_ += c;
    first_.pop_back();
  }
  // Emits the comma before every value but the first of its container; a value that
  // follows its key needs none.
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  void AppendString(std::string_view s) {
    out_ += '"';
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out_ += fmt::format("\\u{:04x}", c);
          } else {
            out_ += ch;  // UTF-8 passes through unchanged
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;  // per open container: no value written yet
  bool after_key_ = false;
};

}  // namespace tranship
