#pragma once
// Building one Data frame from the primary's tranlog files (docs/protocol.md, "Data").
//
// A frame starts at a record boundary (at offset 0 it begins with the 72-byte file
// header), carries whole records only — at least one, up to `target_raw` bytes unless a
// single record is bigger — never crosses into another file, and never reaches past the
// primary's durable end. Every record is checked on the way (CRC, TID sequence, chain,
// and a file header that continues the previous file), so damage on the primary is
// reported here instead of being shipped.
//
// Two steps that may run on different threads: CutFrameAt reads and checks the records
// and fixes where the next frame starts (cheap: the logsender can start the next cut at
// once), CompressFrame does the zstd work (so several frames of one receiver can be
// compressed at the same time on the thread pool).
//
// Thread-safety: these touch only their arguments, so they run on the libuv thread
// pool; a FileSource belongs to one cut at a time.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/raw_buffer.h"
#include "base/status.h"
#include "tranlog/format.h"
#include "logsender/history.h"
#include "wire/batch.h"
#include "wire/protocol.h"
#include "wire/transport.h"

namespace tranship::logsender {

// About 1 MiB of tranlog per frame: big enough that zstd and TLS work on large blocks,
// small enough that a streaming receiver's frame is out quickly and five receivers'
// windows stay modest.
inline constexpr uint32_t kTargetFrameRaw = 1u << 20;

// The zstd level of every frame (startlogsender --zstd-level): level 1 by default,
// ratio ~2.4 on commit records. One level for all frames keeps "compress once, send to
// many" true for receivers catching up together. On a link faster than zstd (loopback,
// a fast LAN) compression is the slowest step of shipping, and a fast negative level or
// none (kUncompressed, --zstd-level off) ships a backlog faster.
inline constexpr int kDefaultZstdLevel = 1;
// Outside zstd's range: the frames go uncompressed.
inline constexpr int kUncompressed = -1000;
// "zstd 1", "uncompressed".
std::string DescribeZstdLevel(int level);

// A frame's records, read and checked, before compression.
struct CutFrame {
  wire::DataHeader header;      // flags not set yet
  RawBuffer raw;                // the records (header.raw_length bytes)
  Position end;
  Boundary next;
  uint64_t last_tid = 0;
  uint64_t last_commit_us = 0;
};

struct BuiltFrame {
  wire::DataHeader header;
  wire::SharedBuffer bytes;     // the whole encoded Data frame, written as is
  Position end;                 // after its last record, in header.file_id
  Boundary next;                // where the following frame starts
  uint64_t last_tid = 0;        // TID of its last record (first_tid - 1 if none)
  uint64_t last_commit_us = 0;  // timestamp of its last record; 0 if it has none
};

// One receiver's open tranlog file. Only positional reads of durable bytes go through
// it: nothing is buffered across builds, because the newest file's preallocated zeros
// turn into records as the stone writes.
struct FileSource {
  uint64_t file_id = 0;
  std::unique_ptr<RandomAccessFile> file;
};

// The records of the frame that starts at `from` (a boundary the caller knows), read
// from `path`, the file `from.pos.file_id`. nullopt: nothing durable follows `from` yet.
// Corruption: the primary's file is damaged there (the message names file and offset).
// `stop_at` (0: none) is an offset of that file where the current history leaves the
// file's lineage (a junction, logsender/lineages.h): what follows it there belongs to an
// abandoned branch, so the frame ends there, even after the file header alone.
Result<std::optional<CutFrame>> CutFrameAt(Env* env, const std::string& path,
                                           const Boundary& from, const DurableEnd& end,
                                           uint32_t target_raw, FileSource* source,
                                           uint64_t stop_at = 0);
// The frame of a cut, compressed at zstd `level` (kUncompressed: not at all). Content
// zstd cannot shrink goes uncompressed too.
BuiltFrame CompressFrame(CutFrame cut, wire::Compressor* compressor, int level);

}  // namespace tranship::logsender
