#include "restore/apply.h"

#include <fmt/format.h>

#include "base/coding.h"
#include "engine/recovery.h"

namespace tranship {

Position NormalizeAfterLogSwitch(const tranlog::RecordRef& rec, Position end) {
  if (rec.header.type != tranlog::RecordType::kLogSwitch) return end;
  tranlog::LogSwitchPayload ls;
  if (!tranlog::DecodeLogSwitch(rec.payload, &ls).ok()) return end;
  return Position{ls.next_file_id, tranlog::kFileHeaderSize};
}

uint64_t ChainAfter(uint64_t prev, const tranlog::RecordHeader& h) {
  // Header bytes [4, 32): length, type, flags, reserved, payload CRC, TID, timestamp.
  uint8_t b[28] = {};
  EncodeFixed32(b, h.length);
  b[4] = static_cast<uint8_t>(h.type);
  b[5] = h.flags;
  EncodeFixed32(b + 8, h.payload_crc);
  EncodeFixed64(b + 12, h.tid);
  EncodeFixed64(b + 20, h.timestamp_us);
  return tranlog::ChainNext(prev, b);
}

ApplyVerdict RestoreApplier::Apply(const tranlog::RecordRef& rec, uint64_t end_offset) {
  RestoredPosition& at = progress_->at;
  const tranlog::RecordHeader& h = rec.header;
  if (h.tid <= at.tid) {
    if (h.tid == at.tid && h.chain != at.chain) {
      why_ = fmt::format("fork in time: {} holds TID {} with chain {:016x}, but the stone's "
                         "history ({}) has chain {:016x} there",
                         rec.pos.ToString(), h.tid, h.chain, at.ToString(), at.chain);
      return ApplyVerdict::kFork;
    }
    progress_->skipped++;
    return ApplyVerdict::kSkipped;
  }
  if (h.tid > at.tid + 1) {
    why_ = fmt::format("gap: {} holds TID {}, but the stone's history ends at TID {}; the "
                       "records in between are missing",
                       rec.pos.ToString(), h.tid, at.tid);
    return ApplyVerdict::kGap;
  }
  if (ChainAfter(at.chain, h) != h.chain) {
    why_ = fmt::format("fork in time: {} holds TID {} of another history (chain {:016x}) than "
                       "the stone's ({}, chain {:016x})",
                       rec.pos.ToString(), h.tid, h.chain, at.ToString(), at.chain);
    return ApplyVerdict::kFork;
  }
  Status s = ApplyRecord(rec, state_);
  if (!s.ok()) {
    why_ = fmt::format("{}: {}", rec.pos.ToString(), s.message());
    return ApplyVerdict::kBadRecord;
  }
  bool suspended = progress_->failover_tid != 0;
  NoteRecord(rec, &at.lineage, &suspended);
  if (!suspended) {
    progress_->failover_tid = 0;
  } else if (progress_->failover_tid == 0 || (h.type == tranlog::RecordType::kCheckpoint &&
                                                (h.flags & tranlog::kFlagFailover))) {
    progress_->failover_tid = h.tid;
  }
  at.tid = h.tid;
  at.chain = h.chain;
  at.commit_time_us = h.timestamp_us;
  at.pos = NormalizeAfterLogSwitch(rec, Position{rec.pos.file_id, end_offset});
  progress_->applied++;
  return ApplyVerdict::kApplied;
}

}  // namespace tranship
