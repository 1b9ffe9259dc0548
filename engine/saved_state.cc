#include "engine/saved_state.h"

#include <cassert>

namespace tranship {

void EncodeSavedStateHeader(std::string* dst, std::string_view magic, uint32_t version,
                            uint32_t header_size, const SavedStateHeader& h) {
  assert(magic.size() == 8);
  dst->append(magic.data(), 8);             // 0: magic
  PutFixed32(dst, version);                 // 8: format version
  PutFixed32(dst, header_size);             // 12: header size
  PutFixed64(dst, h.lineage.hi);            // 16: lineage
  PutFixed64(dst, h.lineage.lo);            // 24
  PutFixed64(dst, h.tid);                   // 32: last applied TID
  PutFixed64(dst, h.position.file_id);      // 40: position after `tid`: file id
  PutFixed64(dst, h.position.offset);       // 48: ... and offset
  PutFixed64(dst, h.chain);                 // 56: chain of record `tid`
  PutFixed64(dst, h.last_commit_us);        // 64: its timestamp
  PutFixed64(dst, h.flags);                 // 72: flags
  PutFixed64(dst, h.keys);                  // 80: number of entries
  PutFixed64(dst, h.created_us);            // 88: when written
}

SavedStateHeader DecodeSavedStateHeader(const uint8_t* p) {
  SavedStateHeader h;
  h.lineage.hi = DecodeFixed64(p + 16);
  h.lineage.lo = DecodeFixed64(p + 24);
  h.tid = DecodeFixed64(p + 32);
  h.position.file_id = DecodeFixed64(p + 40);
  h.position.offset = DecodeFixed64(p + 48);
  h.chain = DecodeFixed64(p + 56);
  h.last_commit_us = DecodeFixed64(p + 64);
  h.flags = DecodeFixed64(p + 72);
  h.keys = DecodeFixed64(p + 80);
  h.created_us = DecodeFixed64(p + 88);
  return h;
}

}  // namespace tranship
