#include "engine/saved_state.h"

#include <cassert>

#include "base/pacer.h"

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

namespace {
// Entries read from the state under its lock at a time: a commit waits for at most one.
constexpr size_t kScanChunk = 1024;
}  // namespace

Status WriteStateEntries(StateView& state, WritableFile* f, std::string* buf,
                         size_t flush_bytes, uint64_t bytes_per_s,
                         const std::function<void(std::string_view bytes)>& digest,
                         const std::function<void(uint64_t entries, uint64_t bytes)>& progress) {
  buf->reserve(flush_bytes + (64 << 10));  // one buffer for the whole write, never regrown
  Pacer pacer(bytes_per_s);
  uint64_t entries = 0, bytes = 0;
  auto put = [&](std::string_view key, const StateEntry& e) {
    PutStateEntry(buf, key, e);
    entries++;
  };
  for (;;) {
    Result<bool> more = state.Next(kScanChunk, put);
    if (!more.ok()) return more.status();
    if (buf->size() >= flush_bytes || !*more) {
      digest(*buf);
      TRANSHIP_RETURN_IF_ERROR(f->Append(AsBytes(*buf)));
      // Written back as it goes: the fsync at the end then finds little to write, and
      // the commits' own fdatasyncs never queue behind the whole state at once.
      f->StartWriteback();
      pacer.Pace(buf->size());
      bytes += buf->size();
      buf->clear();
      if (progress) progress(entries, bytes);
    }
    if (!*more) return Status::OK();
  }
}

}  // namespace tranship
