// The JSON reader (see json_parse.h): a recursive descent of bounded depth.
#include "base/json_parse.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "base/json.h"

namespace tranship {
namespace {

constexpr int kMaxDepth = 32;

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<JsonValue> Document() {
    JsonValue v;
    TRANSHIP_RETURN_IF_ERROR(Value(&v, 0));
    SkipSpace();
    if (p_ != s_.size()) return Error("trailing bytes after the JSON value");
    return v;
  }

 private:
  Status Error(std::string_view what) const {
    return Status::InvalidArgument(fmt::format("bad JSON at byte {}: {}", p_, what));
  }
  void SkipSpace() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) {
      p_++;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  Status Value(JsonValue* v, int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    SkipSpace();
    if (p_ >= s_.size()) return Error("unexpected end");
    char c = s_[p_];
    if (c == '{') return Object(v, depth);
    if (c == '[') return Array(v, depth);
    if (c == '"') {
      v->kind = JsonValue::Kind::kString;
      return String(&v->text);
    }
    if (Literal("null")) {
      v->kind = JsonValue::Kind::kNull;
      return Status::OK();
    }
    if (Literal("true") || Literal("false")) {
      v->kind = JsonValue::Kind::kBool;
      v->boolean = s_[p_ - 1] == 'e' && s_[p_ - 2] == 'u';
      return Status::OK();
    }
    if (c == '-' || (c >= '0' && c <= '9')) return Number(v);
    return Error(fmt::format("unexpected character '{}'", c));
  }

  Status Number(JsonValue* v) {
    size_t start = p_;
    if (s_[p_] == '-') p_++;
    auto digits = [&] {
      size_t d = p_;
      while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') p_++;
      return p_ > d;
    };
    if (!digits()) return Error("a number needs digits");
    if (p_ < s_.size() && s_[p_] == '.') {
      p_++;
      if (!digits()) return Error("a number needs digits after '.'");
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      p_++;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) p_++;
      if (!digits()) return Error("a number needs digits in its exponent");
    }
    v->kind = JsonValue::Kind::kNumber;
    v->text = std::string(s_.substr(start, p_ - start));
    return Status::OK();
  }

  Status Hex4(uint32_t* out) {
    if (p_ + 4 > s_.size()) return Error("truncated \\u escape");
    *out = 0;
    for (int i = 0; i < 4; i++) {
      char c = s_[p_++];
      int d = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return Error("bad \\u escape");
      *out = *out * 16 + static_cast<uint32_t>(d);
    }
    return Status::OK();
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  Status String(std::string* out) {
    p_++;  // the opening quote
    while (true) {
      if (p_ >= s_.size()) return Error("unterminated string");
      char c = s_[p_++];
      if (c == '"') return Status::OK();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (p_ >= s_.size()) return Error("unterminated escape");
      char e = s_[p_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          TRANSHIP_RETURN_IF_ERROR(Hex4(&cp));
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(p_, 2) == "\\u") {
            p_ += 2;
            uint32_t low;
            TRANSHIP_RETURN_IF_ERROR(Hex4(&low));
            if (low < 0xdc00 || low >= 0xe000) return Error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Error(fmt::format("unknown escape '\\{}'", e));
      }
    }
  }

  Status Array(JsonValue* v, int depth) {
    v->kind = JsonValue::Kind::kArray;
    p_++;
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == ']') {
      p_++;
      return Status::OK();
    }
    while (true) {
      v->items.emplace_back();
      TRANSHIP_RETURN_IF_ERROR(Value(&v->items.back(), depth + 1));
      SkipSpace();
      if (p_ < s_.size() && s_[p_] == ',') {
        p_++;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == ']') {
        p_++;
        return Status::OK();
      }
      return Error("expected ',' or ']'");
    }
  }

  Status Object(JsonValue* v, int depth) {
    v->kind = JsonValue::Kind::kObject;
    p_++;
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == '}') {
      p_++;
      return Status::OK();
    }
    while (true) {
      SkipSpace();
      if (p_ >= s_.size() || s_[p_] != '"') return Error("expected a member name");
      std::string key;
      TRANSHIP_RETURN_IF_ERROR(String(&key));
      SkipSpace();
      if (p_ >= s_.size() || s_[p_] != ':') return Error("expected ':'");
      p_++;
      v->members.push_back(JsonMember{std::move(key), JsonValue()});
      TRANSHIP_RETURN_IF_ERROR(Value(&v->members.back().value, depth + 1));
      SkipSpace();
      if (p_ < s_.size() && s_[p_] == ',') {
        p_++;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '}') {
        p_++;
        return Status::OK();
      }
      return Error("expected ',' or '}'");
    }
  }

  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace

const JsonValue* JsonValue::Get(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string JsonValue::Str(std::string_view key, std::string_view fallback) const {
  const JsonValue* v = Get(key);
  return v != nullptr && v->kind == Kind::kString ? v->text : std::string(fallback);
}

uint64_t JsonValue::Uint(std::string_view key, uint64_t fallback) const {
  const JsonValue* v = Get(key);
  if (v == nullptr || v->kind != Kind::kNumber) return fallback;
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v->text.data(), v->text.data() + v->text.size(), out);
  return ec == std::errc() && p == v->text.data() + v->text.size() ? out : fallback;
}

std::optional<double> JsonValue::Num(std::string_view key) const {
  const JsonValue* v = Get(key);
  if (v == nullptr || v->kind != Kind::kNumber) return std::nullopt;
  return std::strtod(v->text.c_str(), nullptr);
}

bool JsonValue::Bool(std::string_view key, bool fallback) const {
  const JsonValue* v = Get(key);
  return v != nullptr && v->kind == Kind::kBool ? v->boolean : fallback;
}

Result<JsonValue> ParseJson(std::string_view text) { return Parser(text).Document(); }

void WriteJson(JsonWriter* w, const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::kNull: w->Null(); break;
    case JsonValue::Kind::kBool: w->Bool(v.boolean); break;
    case JsonValue::Kind::kNumber: w->Number(v.text); break;
    case JsonValue::Kind::kString: w->String(v.text); break;
    case JsonValue::Kind::kArray:
      w->BeginArray();
      for (const JsonValue& item : v.items) WriteJson(w, item);
      w->EndArray();
      break;
    case JsonValue::Kind::kObject:
      w->BeginObject();
      for (const auto& [k, m] : v.members) {
        w->Key(k);
        WriteJson(w, m);
      }
      w->EndObject();
      break;
  }
}

}  // namespace tranship
