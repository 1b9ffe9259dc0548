#include "tranlog/commit.h"

#include <fmt/format.h>

#include "tranlog/format.h"

namespace tranship {

void EncodeCommitPayload(const std::vector<WriteOp>& writes, std::string* dst) {
  PutVarint64(dst, writes.size());
  for (const WriteOp& w : writes) {
    dst->push_back(static_cast<char>(w.kind));
    PutLengthPrefixed(dst, w.key);
    if (w.kind == WriteOp::Kind::kPut) PutLengthPrefixed(dst, w.value);
  }
}

Status DecodeCommitPayload(
    Bytes payload,
    const std::function<void(WriteOp::Kind, std::string_view, std::string_view)>& fn) {
  Decoder d(payload);
  uint64_t n;
  if (!d.GetVarint64(&n) || n > payload.size()) {
    return Status::Corruption("bad commit payload: op count");
  }
  for (uint64_t i = 0; i < n; i++) {
    uint8_t kind;
    std::string_view key, value;
    if (!d.GetU8(&kind) || !d.GetLengthPrefixed(&key, tranlog::kMaxPayloadSize)) {
      return Status::Corruption(fmt::format("bad commit payload: op {}", i));
    }
    if (kind == static_cast<uint8_t>(WriteOp::Kind::kPut)) {
      if (!d.GetLengthPrefixed(&value, tranlog::kMaxPayloadSize)) {
        return Status::Corruption(fmt::format("bad commit payload: value of op {}", i));
      }
    } else if (kind != static_cast<uint8_t>(WriteOp::Kind::kDelete)) {
      return Status::Corruption(fmt::format("bad commit payload: op {} has kind {}", i, kind));
    }
    fn(static_cast<WriteOp::Kind>(kind), key, value);
  }
  if (!d.done()) return Status::Corruption("bad commit payload: trailing bytes");
  return Status::OK();
}

}  // namespace tranship
