#include "logsender/frame_builder.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/crc32c.h"

namespace tranship::logsender {
namespace {

// Reads beyond the target in one go, so that a frame whose last record crosses the
// target needs no second read.
constexpr uint64_t kReadSlack = 64 << 10;

Status OpenSource(Env* env, const std::string& path, uint64_t file_id, FileSource* source) {
  if (source->file_id == file_id && source->file) return Status::OK();
  source->file_id = 0;
  Result<std::unique_ptr<RandomAccessFile>> f = env->NewRandomAccessFile(path);
  if (!f.ok()) return f.status();
  source->file = std::move(*f);
  source->file_id = file_id;
  return Status::OK();
}

// File bytes [start, start + buf->size()) are in *buf; makes [start, want_end) so.
Status ReadUpTo(RandomAccessFile* file, const std::string& path, uint64_t start, uint64_t want_end,
                RawBuffer* buf) {
  uint64_t have_end = start + buf->size();
  if (want_end <= have_end) return Status::OK();
  size_t old = buf->size();
  buf->Resize(want_end - start);
  Result<size_t> got =
      file->Read(have_end, want_end - have_end, reinterpret_cast<uint8_t*>(buf->data() + old));
  if (!got.ok()) return got.status();
  if (*got != want_end - have_end) {
    buf->Resize(old + *got);
    return Status::IOError(fmt::format("{}: short read at offset {} ({} of {} bytes)", path,
                                       have_end, *got, want_end - have_end));
  }
  return Status::OK();
}

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

}  // namespace

Result<std::optional<CutFrame>> CutFrameAt(Env* env, const std::string& path,
                                           const Boundary& from, const DurableEnd& end,
                                           uint32_t target_raw, FileSource* source,
                                           uint64_t stop_at) {
  using Nothing = std::optional<CutFrame>;
  const uint64_t file_id = from.pos.file_id;
  if (!(from.pos < end.pos)) return Nothing();
  TRANSHIP_RETURN_IF_ERROR(OpenSource(env, path, file_id, source));
  RandomAccessFile* file = source->file.get();
  // Only durable bytes are read: up to the durable end in its file; an older file is
  // closed and ends with its log switch (maybe followed by zeros a crash left).
  uint64_t limit = end.pos.offset;
  if (file_id < end.pos.file_id) {
    Result<uint64_t> size = file->Size();
    if (!size.ok()) return size.status();
    limit = *size;
  }
  const bool junction = stop_at > from.pos.offset && stop_at <= limit;
  if (junction) limit = stop_at;
  const uint64_t start = from.pos.offset;
  if (start >= limit) {
    if (file_id < end.pos.file_id) {
      return Status::Corruption(fmt::format(
          "{} ends at offset {} without a log-switch record, but the primary's durable end is "
          "in tranlog {}",
          path, limit, end.pos.file_id));
    }
    return Nothing();
  }
  RawBuffer buf;
  TRANSHIP_RETURN_IF_ERROR(ReadUpTo(
      file, path, start, std::min<uint64_t>(limit, start + target_raw + kReadSlack), &buf));
  uint64_t pos = start;
  uint64_t next_tid = from.next_tid;
  uint64_t chain = from.chain;
  if (start == 0) {
    if (limit < tranlog::kFileHeaderSize) return Nothing();
    tranlog::FileHeader h;
    Status s = tranlog::DecodeFileHeader(
        Bytes(reinterpret_cast<const uint8_t*>(buf.data()), tranlog::kFileHeaderSize), &h);
    if (!s.ok()) return Status::Corruption(fmt::format("{} offset 0: {}", path, s.message()));
    // The file must continue the history exactly where the previous one ended: this is
    // where a gap or a foreign file in the tranlog directory shows.
    if (h.file_id != file_id || h.first_tid != from.next_tid || h.start_chain != from.chain) {
      return Status::Corruption(fmt::format(
          "{}: its header (tranlog {}, first TID {}, start chain {:016x}) does not continue "
          "the history, which ends at TID {} with chain {:016x}",
          path, h.file_id, h.first_tid, h.start_chain, from.next_tid - 1, from.chain));
    }
    pos = tranlog::kFileHeaderSize;
  }

  uint64_t records = 0;
  uint64_t last_tid = from.next_tid - 1;
  uint64_t last_ts = from.last_commit_us;
  std::optional<uint64_t> switch_to;
  bool stopped_for_size = false;
  auto fail = [&](uint64_t at, std::string_view why) {
    return Status::Corruption(fmt::format("{} offset {}: {}", path, at, why));
  };
  while (pos + tranlog::kRecordHeaderSize <= limit) {
    TRANSHIP_RETURN_IF_ERROR(ReadUpTo(file, path, start, pos + tranlog::kRecordHeaderSize, &buf));
    const uint8_t* hp = reinterpret_cast<const uint8_t*>(buf.data()) + (pos - start);
    tranlog::RecordHeader h;
    Status hs = tranlog::DecodeRecordHeader(hp, &h);
    if (!hs.ok()) {
      std::string_view bytes(reinterpret_cast<const char*>(hp), tranlog::kRecordHeaderSize);
      if (AllZero(bytes)) {
        break;  // zeros where a record would start: the end of the records
      }
      return fail(pos, hs.message());
    }
    if (pos + h.length > limit) {
      if (file_id == end.pos.file_id) break;  // not durable yet
      return fail(pos, fmt::format("truncated record: {} bytes declared, {} present", h.length,
                                   limit - pos));
    }
    uint64_t size = pos + h.length - start;
    // A record is never split: the frame stops before the record that would make it too
    // big, unless it is the first (then the frame is that record alone, or — for a record
    // that cannot follow the file header in one frame — the header alone).
    if ((records > 0 && size > target_raw) || size > wire::kMaxDataRaw) {
      stopped_for_size = true;
      break;
    }
    TRANSHIP_RETURN_IF_ERROR(ReadUpTo(file, path, start, pos + h.length, &buf));
    hp = reinterpret_cast<const uint8_t*>(buf.data()) + (pos - start);
    const uint8_t* payload = hp + tranlog::kRecordHeaderSize;
    if (crc32c::Value(payload, h.payload_size()) != h.payload_crc) {
      return fail(pos, "payload checksum mismatch");
    }
    if (h.tid != next_tid) {
      return fail(pos, fmt::format("TID sequence break: expected {}, found {}", next_tid, h.tid));
    }
    if (tranlog::ChainNext(chain, hp + 4) != h.chain) {
      return fail(pos, "chain break: the record does not follow the one before it");
    }
    records++;
    last_tid = h.tid;
    last_ts = h.timestamp_us;
    chain = h.chain;
    next_tid = h.tid + 1;
    pos += h.length;
    if (h.type == tranlog::RecordType::kLogSwitch) {
      tranlog::LogSwitchPayload ls;
      Status s = tranlog::DecodeLogSwitch(Bytes(payload, h.payload_size()), &ls);
      if (!s.ok()) return fail(pos - h.length, s.message());
      switch_to = ls.next_file_id;
      break;
    }
  }
  if (records == 0 && !stopped_for_size && !(junction && start == 0 && pos == limit)) {
    if (file_id < end.pos.file_id && !junction) {
      return Status::Corruption(fmt::format(
          "{} ends at offset {} without a log-switch record, but the primary's durable end is "
          "in tranlog {}",
          path, pos, end.pos.file_id));
    }
    return Nothing();  // nothing durable after `from` yet: wait
  }
  buf.Resize(pos - start);

  CutFrame c;
  c.header.file_id = file_id;
  c.header.offset = start;
  c.header.raw_length = static_cast<uint32_t>(buf.size());
  c.raw = std::move(buf);
  c.end = Position{file_id, pos};
  c.last_tid = last_tid;
  c.last_commit_us = last_ts;
  if (switch_to) {
    c.next = Boundary{{*switch_to, 0}, next_tid, chain, last_ts};
  } else {
    c.next = Boundary{{file_id, pos}, next_tid, chain, last_ts};
  }
  return std::optional<CutFrame>(std::move(c));
}

std::string DescribeZstdLevel(int level) {
  return level == kUncompressed ? std::string("uncompressed") : fmt::format("zstd {}", level);
}

BuiltFrame CompressFrame(CutFrame cut, wire::Compressor* compressor, int level) {
  BuiltFrame f;
  f.header = cut.header;
  Result<std::string_view> z = Status::Aborted("uncompressed");
  if (level != kUncompressed) {
    compressor->set_level(level);
    z = compressor->CompressView(cut.raw.view());
  }
  // Incompressible content goes as it is: the receiver's work and the bytes on the
  // wire are both smaller that way.
  bool use_zstd = z.ok() && z->size() < cut.raw.size();
  f.header.flags = use_zstd ? wire::kDataZstd : 0;
  std::string frame;
  wire::EncodeData(&frame, f.header, use_zstd ? *z : cut.raw.view());
  f.bytes = std::make_shared<const std::string>(std::move(frame));
  f.end = cut.end;
  f.next = cut.next;
  f.last_tid = cut.last_tid;
  f.last_commit_us = cut.last_commit_us;
  return f;
}

}  // namespace tranship::logsender
