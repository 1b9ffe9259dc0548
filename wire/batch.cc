#include "wire/batch.h"

namespace tranship::wire {

struct Compressor::Impl {};
Compressor::Compressor(int) : impl_(std::make_unique<Impl>()) {}
Compressor::~Compressor() = default;
Status Compressor::Compress(std::string_view, std::string*) { return Status::NotSupported("todo"); }

struct Decompressor::Impl {};
Decompressor::Decompressor() : impl_(std::make_unique<Impl>()) {}
Decompressor::~Decompressor() = default;
Status Decompressor::Decompress(std::string_view, uint32_t, std::string*) {
  return Status::NotSupported("todo");
}

}  // namespace tranship::wire
