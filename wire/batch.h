#pragma once
// zstd compression of Data frame payloads. A Compressor and a Decompressor each keep
// their zstd context between calls (one per thread).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tranship::wire {

class Compressor {
 public:
  explicit Compressor(int level = 1);
  ~Compressor();
  // The zstd level of the next calls (negative levels are zstd's fast modes).
  void set_level(int level);
  // Replaces *out with the compressed form of `raw`.
  Status Compress(std::string_view raw, std::string* out);
  // The compressed form of `raw` in this compressor's own buffer, valid until the next
  // call (saves a copy and the zero fill of a fresh buffer).
  Result<std::string_view> CompressView(std::string_view raw);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Decompressor {
 public:
  Decompressor();
  ~Decompressor();
  // Replaces *out with the decompressed `compressed`, which must hold exactly
  // `raw_length` bytes (<= kMaxDataRaw, checked before allocating).
  Status Decompress(std::string_view compressed, uint32_t raw_length, std::string* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tranship::wire
