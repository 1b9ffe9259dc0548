#include "logreceiver/record_check.h"

#include <fmt/format.h>

#include "base/crc32c.h"
#include "tranlog/format.h"

namespace tranship::logreceiver {
namespace tl = tranlog;

DurableEnd StreamEnd::ToDurableEnd() const {
  DurableEnd d;
  d.lineage = lineage;
  d.pos = pos;
  d.tid = tid;
  d.chain = chain;
  d.commit_time_us = commit_time_us;
  return d;
}

namespace {

Status Bad(std::string_view file_name, uint64_t offset, std::string_view what) {
  return Status::Corruption(fmt::format("{} offset {}: {}", file_name, offset, what));
}

}  // namespace

Status CheckChunk(std::string_view file_name, uint64_t file_id, uint64_t offset,
                  std::string_view raw, StreamEnd* end) {
  StreamEnd at = *end;
  bool junction = false;
  // The chunk must continue the stream exactly.
  if (at.anchor) {
    if (offset != 0 || (at.pos.file_id != 0 && file_id != at.pos.file_id)) {
      return Bad(file_name, offset,
                 at.pos.file_id == 0
                     ? std::string("the first data must start at offset 0 of a tranlog")
                     : fmt::format("the first data must start at offset 0 of tranlog {}",
                                   at.pos.file_id));
    }
  } else if (offset == 0 && file_id > at.pos.file_id) {
    // A junction (docs/protocol.md): the first file of a new lineage, which continues
    // the history where the archive ends and may skip ids; its header is checked below
    // to continue the TID and chain and to name another lineage.
    junction = true;
  } else if (file_id != at.pos.file_id || offset != at.pos.offset) {
    return Bad(file_name, offset,
               fmt::format("data does not follow the archive's end ({}{})",
                           at.pos.ToString(), at.log_switched ? ", after a log switch" : ""));
  }
  if (raw.empty()) return Bad(file_name, offset, "empty data frame");

  const auto* base = reinterpret_cast<const uint8_t*>(raw.data());
  size_t p = 0;
  if (offset == 0) {
    if (raw.size() < tl::kFileHeaderSize) {
      return Bad(file_name, 0, "the file header is cut short");
    }
    tl::FileHeader h;
    Status s = tl::DecodeFileHeader(Bytes(base, tl::kFileHeaderSize), &h);
    if (!s.ok()) return Bad(file_name, 0, fmt::format("bad file header: {}", s.message()));
    if (h.file_id != file_id) {
      return Bad(file_name, 0, fmt::format("the file header says tranlog {}", h.file_id));
    }
    if (!at.anchor && (h.first_tid != at.tid + 1 || h.start_chain != at.chain)) {
      return Bad(file_name, 0,
                 fmt::format("the file header (first TID {}, start chain {:016x}) does not "
                             "continue the previous file (last TID {}, chain {:016x})",
                             h.first_tid, h.start_chain, at.tid, at.chain));
    }
    if (junction && h.lineage == at.lineage) {
      return Bad(file_name, 0,
                 fmt::format("data does not follow the archive's end ({}): only a new "
                             "lineage's first file may skip tranlog ids",
                             at.pos.ToString()));
    }
    at.lineage = h.lineage;
    at.tid = h.first_tid - 1;
    at.chain = h.start_chain;
    at.anchor = false;
    p = tl::kFileHeaderSize;
  }
  at.log_switched = false;
  at.pos = Position{file_id, offset + p};

  while (p < raw.size()) {
    uint64_t rec_off = offset + p;
    if (at.log_switched) return Bad(file_name, rec_off, "data after the log switch");
    if (raw.size() - p < tl::kRecordHeaderSize) {
      return Bad(file_name, rec_off, "a record header is cut at the end of the frame");
    }
    const uint8_t* rp = base + p;
    tl::RecordHeader rh;
    Status s = tl::DecodeRecordHeader(rp, &rh);
    if (!s.ok()) return Bad(file_name, rec_off, s.message());
    if (rh.length > raw.size() - p) {
      return Bad(file_name, rec_off,
                 fmt::format("a record of {} bytes is cut at the end of the frame", rh.length));
    }
    const uint8_t* payload = rp + tl::kRecordHeaderSize;
    if (crc32c::Value(payload, rh.payload_size()) != rh.payload_crc) {
      return Bad(file_name, rec_off, "payload checksum mismatch");
    }
    if (rh.tid != at.tid + 1) {
      return Bad(file_name, rec_off,
                 fmt::format("TID {} where {} was expected", rh.tid, at.tid + 1));
    }
    if (tl::ChainNext(at.chain, rp + 4) != rh.chain) {
      return Bad(file_name, rec_off, "chain break");
    }
    Bytes body(payload, rh.payload_size());
    if (rh.type == tl::RecordType::kLogSwitch) {
      tl::LogSwitchPayload ls;
      Status d = tl::DecodeLogSwitch(body, &ls);
      if (!d.ok()) return Bad(file_name, rec_off, d.message());
      if (ls.next_file_id != file_id + 1) {
        return Bad(file_name, rec_off,
                   fmt::format("the log switch names tranlog {} after tranlog {}",
                               ls.next_file_id, file_id));
      }
      at.log_switched = true;
    } else if (rh.type == tl::RecordType::kLineageStart) {
      tl::LineageStartPayload ls;
      Status d = tl::DecodeLineageStart(body, &ls);
      if (!d.ok()) return Bad(file_name, rec_off, d.message());
      at.lineage = ls.lineage;
    }
    at.tid = rh.tid;
    at.chain = rh.chain;
    at.commit_time_us = rh.timestamp_us;
    p += rh.length;
    at.pos.offset = offset + p;
  }
  if (at.log_switched) at.pos = Position{file_id + 1, 0};
  *end = at;
  return Status::OK();
}

}  // namespace tranship::logreceiver
