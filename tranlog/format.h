#pragma once
// The tranlog file format. The full specification, with the byte layout of every field,
// is docs/tranlog-format.md; keep the two in step.
//
// A tranlog file is a 72-byte file header followed by records. Every record starts with
// a 40-byte record header that has its own CRC32C, carries the CRC32C of its payload,
// and a 64-bit chain value that hashes the previous record's chain with this header, so
// each record is bound to every record before it in its lineage. TIDs increase by
// exactly one from record to record across files; only the newest file is appended to,
// and every older file ends with a log-switch record.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "base/status.h"
#include "tranlog/types.h"

namespace tranship::tranlog {

inline constexpr char kMagic[8] = {'T', 'R', 'N', 'S', 'H', 'L', 'O', 'G'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 72;
inline constexpr size_t kRecordHeaderSize = 40;
// A record (header + payload) is at most 64 MiB: large enough for any transaction the
// client protocol accepts, small enough that a reader can allocate it on trust once the
// header CRC has vouched for the length.
inline constexpr uint32_t kMaxRecordSize = 64u << 20;
inline constexpr uint32_t kMaxPayloadSize = kMaxRecordSize - kRecordHeaderSize;

static_assert(kFileHeaderSize % 8 == 0 && kRecordHeaderSize % 8 == 0);

enum class RecordType : uint8_t {
  kCommit = 1,          // one transaction: puts and deletes, applied atomically
  kCheckpoint = 2,      // the stone checkpointed; flag kFlagFailover marks suspend-commits
  kLogSwitch = 3,       // last record of a file; payload names the next file id
  kLineageStart = 4,    // first record of a lineage (stone create, commit-restore)
  kSuspendCommits = 5,  // reserved: suspend without checkpoint (not written today)
  kResumeCommits = 6,   // commits resume after a failover checkpoint
};
const char* RecordTypeName(RecordType t);
bool IsKnownRecordType(uint8_t t);

inline constexpr uint8_t kFlagFailover = 0x01;  // on kCheckpoint
// On the first record of every batch the writer makes durable with one fdatasync. A
// batch is written only after the one before it was synced, so a valid batch-start
// record after damaged bytes proves the damage is not a torn tail (see the reader).
inline constexpr uint8_t kFlagBatchStart = 0x80;

// File header, in file order.
struct FileHeader {
  Lineage lineage;
  uint64_t file_id = 0;
  uint64_t first_tid = 0;        // TID of the first record written to this file
  uint64_t start_chain = 0;      // chain value of the record before this file's first one
  uint64_t created_us = 0;       // creation time, µs since the epoch
};
std::string EncodeFileHeader(const FileHeader& h);
// Checks magic, version, size and CRC; Corruption with a reason otherwise.
Status DecodeFileHeader(Bytes b, FileHeader* h);

// Record header, in file order (the CRC fields first).
struct RecordHeader {
  uint32_t header_crc = 0;   // CRC32C of header bytes [4, 40)
  uint32_t length = 0;       // header + payload bytes
  RecordType type = RecordType::kCommit;
  uint8_t flags = 0;
  uint32_t payload_crc = 0;  // CRC32C of the payload
  uint64_t tid = 0;
  uint64_t timestamp_us = 0;
  uint64_t chain = 0;        // ChainNext(previous chain, header bytes [4, 32))
  uint32_t payload_size() const { return length - static_cast<uint32_t>(kRecordHeaderSize); }
};

// Parses and checks a record header in isolation: header CRC, length bounds, known type.
// Does not check the payload or the chain.
Status DecodeRecordHeader(const uint8_t* p, RecordHeader* h);

// The chain step: mixes `prev` with the 28 header bytes that hold length, type, flags,
// payload CRC, TID and timestamp. See docs/tranlog-format.md.
uint64_t ChainNext(uint64_t prev, const uint8_t* header_bytes_4_to_32);

// Appends one encoded record to *dst and returns its chain value.
uint64_t AppendRecord(std::string* dst, RecordType type, uint8_t flags, uint64_t tid,
                      uint64_t timestamp_us, uint64_t prev_chain, Bytes payload);

// "tranlog12.dbf" for (prefix "tranlog", id 12); ParseFileName is its inverse.
std::string FileName(std::string_view prefix, uint64_t file_id);
bool ParseFileName(std::string_view name, std::string_view prefix, uint64_t* file_id);

// ---- payloads ----

struct LogSwitchPayload {
  uint64_t next_file_id = 0;
};
std::string EncodeLogSwitch(const LogSwitchPayload& p);
Status DecodeLogSwitch(Bytes b, LogSwitchPayload* p);

struct LineageStartPayload {
  Lineage lineage;
  Lineage parent;            // zero for a new repository
  Position parent_end;       // end of the parent history this lineage continues from
  uint64_t parent_tid = 0;   // last TID of the parent history that is included
};
std::string EncodeLineageStart(const LineageStartPayload& p);
Status DecodeLineageStart(Bytes b, LineageStartPayload* p);

// A commit payload is: varint op count, then per op a byte (1 put, 2 delete), the
// varint-length-prefixed key, and for a put the varint-length-prefixed value.
enum class OpKind : uint8_t { kPut = 1, kDelete = 2 };

}  // namespace tranship::tranlog
