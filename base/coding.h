#pragma once
// Little-endian fixed-width and LEB128 varint encoding, used by every on-disk and
// on-wire format. Decoders take a span and never read past it.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace tranship {

using Bytes = std::span<const uint8_t>;

inline void PutFixed16(std::string* dst, uint16_t v) {
  char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  dst->append(b, 2);
}
inline void PutFixed32(std::string* dst, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; i++) b[i] = static_cast<char>(v >> (8 * i));
  dst->append(b, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>(v >> (8 * i));
  dst->append(b, 8);
}
inline void EncodeFixed32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void EncodeFixed64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t DecodeFixed16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t DecodeFixed32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86-64 and aarch64 are little-endian
  return v;
}
inline uint64_t DecodeFixed64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}
inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}

// A cursor over borrowed bytes. Every Get* returns false (and leaves the cursor
// unusable) instead of reading past the end.
class Decoder {
 public:
  explicit Decoder(Bytes b) : p_(b.data()), end_(b.data() + b.size()) {}
  Decoder(const void* p, size_t n)
      : p_(static_cast<const uint8_t*>(p)), end_(static_cast<const uint8_t*>(p) + n) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }
  const uint8_t* pos() const { return p_; }

  bool GetU8(uint8_t* v) {
    if (remaining() < 1) return Fail();
    *v = *p_++;
    return true;
  }
  bool GetFixed16(uint16_t* v) {
    if (remaining() < 2) return Fail();
    *v = DecodeFixed16(p_);
    p_ += 2;
    return true;
  }
  bool GetFixed32(uint32_t* v) {
    if (remaining() < 4) return Fail();
    *v = DecodeFixed32(p_);
    p_ += 4;
    return true;
  }
  bool GetFixed64(uint64_t* v) {
    if (remaining() < 8) return Fail();
    *v = DecodeFixed64(p_);
    p_ += 8;
    return true;
  }
  bool GetVarint64(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63 && p_ < end_; shift += 7) {
      uint64_t byte = *p_++;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return Fail();
  }
  bool GetBytes(size_t n, std::string_view* out) {
    if (remaining() < n) return Fail();
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // A varint length followed by that many bytes; lengths above `max` fail.
  bool GetLengthPrefixed(std::string_view* out, uint64_t max = UINT32_MAX) {
    uint64_t n;
    if (!GetVarint64(&n) || n > max) return Fail();
    return GetBytes(static_cast<size_t>(n), out);
  }

 private:
  bool Fail() {
    p_ = end_;
    return false;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

inline Bytes AsBytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsStringView(Bytes b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace tranship
