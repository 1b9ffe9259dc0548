#include "logsender/frame_builder.h"

#include <fmt/format.h>

namespace tranship::logsender {
namespace {

Status OpenSource(Env* env, const std::string& path, uint64_t file_id, FileSource* source) {
  if (source->file_id == file_id && source->reader) return Status::OK();
  source->file_id = 0;
  Result<std::unique_ptr<tranlog::FileReader>> reader = tranlog::FileReader::Open(env, path);
  if (!reader.ok()) return reader.status();
  Result<std::unique_ptr<RandomAccessFile>> raw = env->NewRandomAccessFile(path);
  if (!raw.ok()) return raw.status();
  if ((*reader)->header().file_id != file_id) {
    return Status::Corruption(
        fmt::format("{}: its header says it is tranlog {}", path, (*reader)->header().file_id));
  }
  source->reader = std::move(*reader);
  source->raw = std::move(*raw);
  source->file_id = file_id;
  return Status::OK();
}

}  // namespace

Result<std::optional<BuiltFrame>> BuildFrame(Env* env, const std::string& path,
                                             const Boundary& from, const DurableEnd& end,
                                             uint32_t target_raw, wire::Compressor* compressor,
                                             FileSource* source) {
  const uint64_t file_id = from.pos.file_id;
  if (!(from.pos < end.pos)) return std::optional<BuiltFrame>();
  TRANSHIP_RETURN_IF_ERROR(OpenSource(env, path, file_id, source));
  tranlog::FileReader& reader = *source->reader;
  reader.SetLimit(file_id == end.pos.file_id ? end.pos.offset : UINT64_MAX);
  if (from.pos.offset == 0) {
    // The file must continue the history exactly where the previous one ended: this is
    // where a gap or a foreign file in the tranlog directory shows.
    const tranlog::FileHeader& h = reader.header();
    if (h.first_tid != from.next_tid || h.start_chain != from.chain) {
      return Status::Corruption(fmt::format(
          "{}: its header starts at TID {} after chain {:016x}, but the previous tranlog ends "
          "at TID {} with chain {:016x}",
          path, h.first_tid, h.start_chain, from.next_tid - 1, from.chain));
    }
    reader.SeekTo(tranlog::kFileHeaderSize, h.first_tid, h.start_chain);
  } else {
    reader.SeekTo(from.pos.offset, from.next_tid, from.chain);
  }

  const uint64_t raw_start = from.pos.offset;
  uint64_t records = 0;
  uint64_t last_tid = from.next_tid - 1;
  uint64_t last_ts = from.last_commit_us;
  std::optional<uint64_t> switch_to;
  bool stopped_for_size = false;
  tranlog::RecordRef rec;
  while (true) {
    uint64_t off = reader.offset(), tid = reader.next_tid(), chain = reader.chain();
    tranlog::FileReader::Outcome out = reader.Next(&rec);
    if (out == tranlog::FileReader::Outcome::kEnd) break;
    if (out == tranlog::FileReader::Outcome::kDamage) {
      if (reader.damage().zero_tail) break;  // preallocated space: the end of the records
      return Status::Corruption(
          fmt::format("{} offset {}: {}", path, reader.damage().offset, reader.damage().reason));
    }
    uint64_t size = reader.offset() - raw_start;
    // A record is never split: the frame stops before the record that would make it too
    // big, unless it is the first (then the frame is just that record, or, for a
    // record that cannot follow the file header in one frame, just the header).
    if ((records > 0 && size > target_raw) || size > wire::kMaxDataRaw) {
      reader.SeekTo(off, tid, chain);
      stopped_for_size = true;
      break;
    }
    records++;
    last_tid = rec.header.tid;
    last_ts = rec.header.timestamp_us;
    if (rec.header.type == tranlog::RecordType::kLogSwitch) {
      tranlog::LogSwitchPayload ls;
      Status s = tranlog::DecodeLogSwitch(rec.payload, &ls);
      if (!s.ok()) {
        return Status::Corruption(fmt::format("{} offset {}: {}", path, off, s.message()));
      }
      switch_to = ls.next_file_id;
      break;
    }
  }
  const uint64_t raw_end = reader.offset();
  if (records == 0 && !stopped_for_size) {
    if (file_id < end.pos.file_id) {
      return Status::Corruption(fmt::format(
          "{} ends at offset {} without a log-switch record, but the primary's durable end is "
          "in tranlog {}",
          path, raw_end, end.pos.file_id));
    }
    return std::optional<BuiltFrame>();  // nothing durable after `from` yet: wait
  }

  std::string raw(raw_end - raw_start, '\0');
  Result<size_t> got =
      source->raw->Read(raw_start, raw.size(), reinterpret_cast<uint8_t*>(raw.data()));
  if (!got.ok()) return got.status();
  if (*got != raw.size()) {
    return Status::IOError(fmt::format("{}: short read at offset {} ({} of {} bytes)", path,
                                       raw_start, *got, raw.size()));
  }
  BuiltFrame f;
  f.header.file_id = file_id;
  f.header.offset = raw_start;
  f.header.raw_length = static_cast<uint32_t>(raw.size());
  std::string compressed;
  Status cs = compressor->Compress(raw, &compressed);
  // Incompressible content goes as it is: the receiver's work and the bytes on the
  // wire are both smaller that way.
  bool use_zstd = cs.ok() && compressed.size() < raw.size();
  f.header.flags = use_zstd ? wire::kDataZstd : 0;
  std::string frame;
  wire::EncodeData(&frame, f.header, use_zstd ? std::string_view(compressed) : raw);
  f.bytes = std::make_shared<const std::string>(std::move(frame));
  f.end = Position{file_id, raw_end};
  f.last_tid = last_tid;
  f.last_commit_us = last_ts;
  if (switch_to) {
    f.next = Boundary{{*switch_to, 0}, last_tid + 1, reader.chain(), last_ts};
  } else {
    f.next = Boundary{{file_id, raw_end}, reader.next_tid(), reader.chain(), last_ts};
  }
  return std::optional<BuiltFrame>(std::move(f));
}

}  // namespace tranship::logsender
