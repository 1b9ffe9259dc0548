#include "tranlog/format.h"

#include <cstring>

#include <fmt/format.h>

#include "base/crc32c.h"

namespace tranship::tranlog {

const char* RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kCommit: return "commit";
    case RecordType::kCheckpoint: return "checkpoint";
    case RecordType::kLogSwitch: return "log-switch";
    case RecordType::kLineageStart: return "lineage-start";
    case RecordType::kSuspendCommits: return "suspend-commits";
    case RecordType::kResumeCommits: return "resume-commits";
  }
  return "unknown";
}

bool IsKnownRecordType(uint8_t t) { return t >= 1 && t <= 6; }

std::string EncodeFileHeader(const FileHeader& h) {
  std::string s;
  s.reserve(kFileHeaderSize);
  s.append(kMagic, sizeof(kMagic));           // 0: magic
  PutFixed32(&s, kFormatVersion);             // 8: format version
  PutFixed32(&s, kFileHeaderSize);            // 12: header size
  PutFixed64(&s, h.lineage.hi);               // 16: lineage (high half first)
  PutFixed64(&s, h.lineage.lo);               // 24
  PutFixed64(&s, h.file_id);                  // 32: file id
  PutFixed64(&s, h.first_tid);                // 40: first TID
  PutFixed64(&s, h.start_chain);              // 48: chain at file start
  PutFixed64(&s, h.created_us);               // 56: creation time
  PutFixed32(&s, 0);                          // 64: reserved, zero
  PutFixed32(&s, crc32c::Value(s.data(), s.size()));  // 68: CRC32C of bytes [0, 68)
  return s;
}

Status DecodeFileHeader(Bytes b, FileHeader* h) {
  if (b.size() < kFileHeaderSize) {
    return Status::Corruption(fmt::format("file header is {} bytes, expected {}", b.size(),
                                          kFileHeaderSize));
  }
  const uint8_t* p = b.data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("not a tranlog file (bad magic)");
  }
  uint32_t version = DecodeFixed32(p + 8);
  if (version != kFormatVersion) {
    return Status::Corruption(fmt::format("unsupported tranlog format version {}", version));
  }
  if (DecodeFixed32(p + 12) != kFileHeaderSize) {
    return Status::Corruption("bad file header size");
  }
  if (DecodeFixed32(p + 68) != crc32c::Value(p, 68)) {
    return Status::Corruption("file header checksum mismatch");
  }
  h->lineage.hi = DecodeFixed64(p + 16);
  h->lineage.lo = DecodeFixed64(p + 24);
  h->file_id = DecodeFixed64(p + 32);
  h->first_tid = DecodeFixed64(p + 40);
  h->start_chain = DecodeFixed64(p + 48);
  h->created_us = DecodeFixed64(p + 56);
  return Status::OK();
}

Status DecodeRecordHeader(const uint8_t* p, RecordHeader* h) {
  h->header_crc = DecodeFixed32(p);
  if (h->header_crc != crc32c::Value(p + 4, kRecordHeaderSize - 4)) {
    return Status::Corruption("record header checksum mismatch");
  }
  h->length = DecodeFixed32(p + 4);
  if (h->length < kRecordHeaderSize || h->length > kMaxRecordSize) {
    return Status::Corruption(fmt::format("bad record length {}", h->length));
  }
  if (!IsKnownRecordType(p[8])) {
    return Status::Corruption(fmt::format("unknown record type {}", p[8]));
  }
  h->type = static_cast<RecordType>(p[8]);
  h->flags = p[9];
  h->payload_crc = DecodeFixed32(p + 12);
  h->tid = DecodeFixed64(p + 16);
  h->timestamp_us = DecodeFixed64(p + 24);
  h->chain = DecodeFixed64(p + 32);
  return Status::OK();
}

uint64_t ChainNext(uint64_t prev, const uint8_t* b) {
  // Four 64-bit words from the 28 header bytes (the last one zero-padded), each folded
  // into the state with a multiply and the murmur3 finalizer. Not cryptographic: it
  // detects damage and divergent histories, TLS guards against forgery.
  uint64_t w[4] = {0, 0, 0, 0};
  std::memcpy(w, b, 28);
  uint64_t x = prev ^ 0x9e3779b97f4a7c15ULL;
  for (uint64_t v : w) {
    x ^= v;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 29;
  }
  return x;
}

uint64_t AppendRecord(std::string* dst, RecordType type, uint8_t flags, uint64_t tid,
                      uint64_t timestamp_us, uint64_t prev_chain, Bytes payload) {
  uint8_t h[kRecordHeaderSize];
  uint32_t length = static_cast<uint32_t>(kRecordHeaderSize + payload.size());
  EncodeFixed32(h + 4, length);                                    // 4: length
  h[8] = static_cast<uint8_t>(type);                               // 8: type
  h[9] = flags;                                                    // 9: flags
  h[10] = h[11] = 0;                                               // 10: reserved
  EncodeFixed32(h + 12, crc32c::Value(payload.data(), payload.size()));  // 12: payload CRC
  EncodeFixed64(h + 16, tid);                                      // 16: TID
  EncodeFixed64(h + 24, timestamp_us);                             // 24: timestamp
  uint64_t chain = ChainNext(prev_chain, h + 4);
  EncodeFixed64(h + 32, chain);                                    // 32: chain
  EncodeFixed32(h, crc32c::Value(h + 4, kRecordHeaderSize - 4));   // 0: header CRC
  dst->append(reinterpret_cast<const char*>(h), sizeof(h));
  dst->append(reinterpret_cast<const char*>(payload.data()), payload.size());
  return chain;
}

std::string FileName(std::string_view prefix, uint64_t file_id) {
  return fmt::format("{}{}.dbf", prefix, file_id);
}

bool ParseFileName(std::string_view name, std::string_view prefix, uint64_t* file_id) {
  if (name.size() <= prefix.size() + 4 || name.substr(0, prefix.size()) != prefix) return false;
  if (name.substr(name.size() - 4) != ".dbf") return false;
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - 4);
  if (digits.empty() || digits.size() > 19 || digits[0] == '0') return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *file_id = v;
  return true;
}

std::string EncodeLogSwitch(const LogSwitchPayload& p) {
  std::string s;
  PutFixed64(&s, p.next_file_id);
  return s;
}

Status DecodeLogSwitch(Bytes b, LogSwitchPayload* p) {
  Decoder d(b);
  if (!d.GetFixed64(&p->next_file_id) || !d.done()) {
    return Status::Corruption("bad log-switch payload");
  }
  return Status::OK();
}

std::string EncodeLineageStart(const LineageStartPayload& p) {
  std::string s;
  PutFixed64(&s, p.lineage.hi);
  PutFixed64(&s, p.lineage.lo);
  PutFixed64(&s, p.parent.hi);
  PutFixed64(&s, p.parent.lo);
  PutFixed64(&s, p.parent_end.file_id);
  PutFixed64(&s, p.parent_end.offset);
  PutFixed64(&s, p.parent_tid);
  return s;
}

Status DecodeLineageStart(Bytes b, LineageStartPayload* p) {
  Decoder d(b);
  if (!d.GetFixed64(&p->lineage.hi) || !d.GetFixed64(&p->lineage.lo) ||
      !d.GetFixed64(&p->parent.hi) || !d.GetFixed64(&p->parent.lo) ||
      !d.GetFixed64(&p->parent_end.file_id) || !d.GetFixed64(&p->parent_end.offset) ||
      !d.GetFixed64(&p->parent_tid) || !d.done()) {
    return Status::Corruption("bad lineage-start payload");
  }
  return Status::OK();
}

}  // namespace tranship::tranlog
