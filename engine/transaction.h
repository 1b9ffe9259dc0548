#pragma once
// A transaction as the engine commits it: the keys it read (with the version it saw,
// for optimistic validation) and the puts and deletes it makes. Also the commit-record
// payload codec (layout in docs/tranlog-format.md).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/coding.h"
#include "base/status.h"

namespace tranship {

struct WriteOp {
  enum class Kind : uint8_t { kPut = 1, kDelete = 2 };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // empty for a delete
};

// A key the transaction read and the version it saw: the TID of the commit that last
// wrote it, or 0 if the key was absent.
struct ReadCheck {
  std::string key;
  uint64_t version = 0;
};

struct TxnRequest {
  std::vector<ReadCheck> reads;
  std::vector<WriteOp> writes;
};

// Appends the commit payload for `writes` to *dst.
void EncodeCommitPayload(const std::vector<WriteOp>& writes, std::string* dst);
// Calls fn(kind, key, value) for each op; Corruption if the payload is malformed.
Status DecodeCommitPayload(
    Bytes payload,
    const std::function<void(WriteOp::Kind, std::string_view, std::string_view)>& fn);

}  // namespace tranship
