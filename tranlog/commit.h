#pragma once
// What a commit is made of, wherever it travels: a transaction as a client sends it and
// the engine validates it (the keys it read, with the version it saw, and the puts and
// deletes it makes), a read's answer, and the commit record's payload codec (layout in
// docs/tranlog-format.md). The client protocol carries these; the engine commits them.

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

// A key's committed value and its version, as a read returns it.
struct ReadResult {
  bool found = false;
  std::string value;
  uint64_t version = 0;  // TID of the commit that last wrote the key; 0 if absent
};

// Appends the commit payload for `writes` to *dst.
void EncodeCommitPayload(const std::vector<WriteOp>& writes, std::string* dst);
// Calls fn(kind, key, value) for each op; Corruption if the payload is malformed.
Status DecodeCommitPayload(
    Bytes payload,
    const std::function<void(WriteOp::Kind, std::string_view, std::string_view)>& fn);

}  // namespace tranship
