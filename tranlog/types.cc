#include "tranlog/types.h"

#include <sys/random.h>

#include <fmt/format.h>

namespace tranship {

std::string Lineage::ToHex() const { return fmt::format("{:016x}{:016x}", hi, lo); }

bool Lineage::FromHex(std::string_view s, Lineage* out) {
  if (s.size() != 32) return false;
  uint64_t parts[2] = {0, 0};
  for (size_t i = 0; i < 32; i++) {
    char c = s[i];
    uint64_t d;
    if (c >= '0' && c <= '9') d = static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<uint64_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<uint64_t>(c - 'A' + 10);
    else return false;
    parts[i / 16] = (parts[i / 16] << 4) | d;
  }
  out->hi = parts[0];
  out->lo = parts[1];
  return true;
}

Lineage Lineage::Random() {
  Lineage l;
  while (l.IsZero()) {
    uint64_t buf[2];
    size_t got = 0;
    while (got < sizeof(buf)) {
      ssize_t n = getrandom(reinterpret_cast<char*>(buf) + got, sizeof(buf) - got, 0);
      if (n > 0) got += static_cast<size_t>(n);
    }
    l.hi = buf[0];
    l.lo = buf[1];
  }
  return l;
}

std::string Position::ToString() const {
  return fmt::format("tranlog {} offset {}", file_id, offset);
}

}  // namespace tranship
