#include "wire/batch.h"

#include <fmt/format.h>
#include <zstd.h>

#include <memory>

#include "wire/protocol.h"

namespace tranship::wire {

struct Compressor::Impl {
  ZSTD_CCtx* cctx = nullptr;
  int level = 1;
  std::unique_ptr<char[]> out;  // not zero-filled: zstd writes what is read back
  size_t out_capacity = 0;
  ~Impl() { ZSTD_freeCCtx(cctx); }
};

Compressor::Compressor(int level) : impl_(std::make_unique<Impl>()) {
  impl_->cctx = ZSTD_createCCtx();
  impl_->level = level;
}

Compressor::~Compressor() = default;

void Compressor::set_level(int level) { impl_->level = level; }

Result<std::string_view> Compressor::CompressView(std::string_view raw) {
  if (impl_->cctx == nullptr) return Status::IOError("zstd: cannot create a compression context");
  size_t bound = ZSTD_compressBound(raw.size());
  if (bound > impl_->out_capacity) {
    impl_->out = std::make_unique_for_overwrite<char[]>(bound);
    impl_->out_capacity = bound;
  }
  // ZSTD_compressCCtx writes the content size into the frame header, which the
  // receiver's Decompress checks against the Data frame's raw_length.
  size_t n = ZSTD_compressCCtx(impl_->cctx, impl_->out.get(), bound, raw.data(), raw.size(),
                               impl_->level);
  if (ZSTD_isError(n)) {
    return Status::IOError(fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  }
  return std::string_view(impl_->out.get(), n);
}

Status Compressor::Compress(std::string_view raw, std::string* out) {
  Result<std::string_view> z = CompressView(raw);
  if (!z.ok()) {
    out->clear();
    return z.status();
  }
  out->assign(*z);
  return Status::OK();
}

struct Decompressor::Impl {
  ZSTD_DCtx* dctx = nullptr;
  ~Impl() { ZSTD_freeDCtx(dctx); }
};

Decompressor::Decompressor() : impl_(std::make_unique<Impl>()) { impl_->dctx = ZSTD_createDCtx(); }

Decompressor::~Decompressor() = default;

Status Decompressor::Decompress(std::string_view compressed, uint32_t raw_length,
                                std::string* out) {
  if (impl_->dctx == nullptr) {
    return Status::IOError("zstd: cannot create a decompression context");
  }
  if (raw_length > kMaxDataRaw) {
    return Status::Corruption(fmt::format("zstd payload: {} raw bytes exceed the limit of {}",
                                          raw_length, kMaxDataRaw));
  }
  // The frame must declare its content size, and it must be the one the Data header
  // announced: only then is allocating raw_length bytes allocating what arrives.
  unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return Status::Corruption("zstd payload: not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::Corruption("zstd payload: the frame does not declare its size");
  }
  if (size != raw_length) {
    return Status::Corruption(fmt::format(
        "zstd payload: the frame holds {} bytes, the Data header says {}", size, raw_length));
  }
  // One frame exactly: trailing bytes (a second frame, garbage) are refused.
  size_t frame_size = ZSTD_findFrameCompressedSize(compressed.data(), compressed.size());
  if (ZSTD_isError(frame_size) || frame_size != compressed.size()) {
    return Status::Corruption("zstd payload: not exactly one zstd frame");
  }
  out->resize(raw_length);
  size_t n = ZSTD_decompressDCtx(impl_->dctx, out->data(), out->size(), compressed.data(),
                                 compressed.size());
  if (ZSTD_isError(n) || n != raw_length) {
    out->clear();
    return Status::Corruption(fmt::format("zstd payload damaged: {}",
                                          ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"));
  }
  return Status::OK();
}

}  // namespace tranship::wire
