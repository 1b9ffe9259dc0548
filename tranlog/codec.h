#pragma once
// The fixed-width encoding of the tranlog's value types, the one every message that
// carries them uses: the client protocol (docs/client-protocol.md) and the shipping
// protocol (docs/protocol.md).
//
//   Lineage     hi:fixed64 lo:fixed64                                   16 bytes
//   Position    file_id:fixed64 offset:fixed64                          16 bytes
//   DurableEnd  Lineage Position tid:fixed64 chain:fixed64
//               commit_time_us:fixed64                                  56 bytes

#include <cstddef>
#include <string>

#include "base/coding.h"
#include "tranlog/types.h"

namespace tranship {

inline constexpr size_t kLineageEncodedSize = 16;
inline constexpr size_t kPositionEncodedSize = 16;
inline constexpr size_t kDurableEndEncodedSize = kLineageEncodedSize + kPositionEncodedSize + 3 * 8;
static_assert(kDurableEndEncodedSize == 56);

inline void PutLineage(std::string* dst, const Lineage& l) {
  PutFixed64(dst, l.hi);
  PutFixed64(dst, l.lo);
}
inline void PutPosition(std::string* dst, const Position& p) {
  PutFixed64(dst, p.file_id);
  PutFixed64(dst, p.offset);
}
inline void PutDurableEnd(std::string* dst, const DurableEnd& e) {
  PutLineage(dst, e.lineage);         // lineage of the history
  PutPosition(dst, e.pos);            // end: file id, offset
  PutFixed64(dst, e.tid);             // TID of the last durable record
  PutFixed64(dst, e.chain);           // its chain value
  PutFixed64(dst, e.commit_time_us);  // its commit time, µs since the epoch
}

// Each mirrors its Put above; false if the bytes run out.
inline bool GetLineage(Decoder* d, Lineage* l) { return d->GetFixed64(&l->hi) && d->GetFixed64(&l->lo); }
inline bool GetPosition(Decoder* d, Position* p) {
  return d->GetFixed64(&p->file_id) && d->GetFixed64(&p->offset);
}
inline bool GetDurableEnd(Decoder* d, DurableEnd* e) {
  return GetLineage(d, &e->lineage) && GetPosition(d, &e->pos) && d->GetFixed64(&e->tid) &&
         d->GetFixed64(&e->chain) && d->GetFixed64(&e->commit_time_us);
}

}  // namespace tranship
