#include "tranlog/reader.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/coding.h"
#include "base/crc32c.h"

namespace tranship::tranlog {
namespace {
// Reads are done in chunks of this size: large enough that a sequential scan costs one
// pread per megabyte, small enough to keep a reader's memory modest.
constexpr size_t kReadChunk = 1 << 20;
}  // namespace

FileReader::FileReader(std::string path, std::unique_ptr<RandomAccessFile> file)
    : path_(std::move(path)), file_(std::move(file)) {}

Result<std::unique_ptr<FileReader>> FileReader::Open(Env* env, const std::string& path) {
  auto f = env->NewRandomAccessFile(path);
  if (!f.ok()) return f.status();
  std::unique_ptr<FileReader> r(new FileReader(path, std::move(*f)));
  auto size = r->file_->Size();
  if (!size.ok()) return size.status();
  r->file_size_ = *size;
  if (!r->Fill(0, kFileHeaderSize)) {
    return Status::Corruption(fmt::format("{}: file is {} bytes, shorter than a tranlog header",
                                          path, r->file_size_));
  }
  Status s = DecodeFileHeader(AsBytes(r->buf_).subspan(0, kFileHeaderSize), &r->header_);
  if (!s.ok()) return Status::Corruption(fmt::format("{} offset 0: {}", path, s.message()));
  r->offset_ = kFileHeaderSize;
  r->chain_ = r->header_.start_chain;
  r->next_tid_ = r->header_.first_tid;
  return r;
}

bool FileReader::Fill(uint64_t offset, size_t n) {
  if (offset >= buf_start_ && offset + n <= buf_start_ + buf_.size()) return true;
  if (offset + n > file_size_) {
    // The file may have grown since we looked (a stone appending to it).
    auto size = file_->Size();
    if (size.ok()) file_size_ = *size;
    if (offset + n > file_size_) return false;
  }
  size_t want = static_cast<size_t>(
      std::min<uint64_t>(std::max(n, kReadChunk), file_size_ - offset));
  buf_.resize(want);
  auto got = file_->Read(offset, want, reinterpret_cast<uint8_t*>(buf_.data()));
  buf_start_ = offset;
  if (!got.ok()) {
    buf_.clear();
    return false;
  }
  buf_.resize(*got);
  return *got >= n;
}

FileReader::Outcome FileReader::Fail(uint64_t offset, std::string reason) {
  damage_.offset = offset;
  damage_.reason = std::move(reason);
  damage_.zero_tail = ZerosToEnd(offset);
  damage_.valid_data_after = !damage_.zero_tail && FindLaterRecord(offset + 1);
  return Outcome::kDamage;
}

bool FileReader::ZerosToEnd(uint64_t from) {
  uint64_t end = std::min(limit_, file_size_);
  for (uint64_t off = from; off < end;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kReadChunk, end - off));
    if (!Fill(off, n)) return false;
    const char* p = buf_.data() + (off - buf_start_);
    if (!std::all_of(p, p + n, [](char c) { return c == 0; })) return false;
    off += n;
  }
  return true;
}

// A record header is self-checking (its own CRC), so scanning byte by byte for one
// whose TID lies after ours tells damage in the middle of a history from a torn tail.
bool FileReader::FindLaterRecord(uint64_t from) {
  uint64_t end = std::min(limit_, file_size_);
  for (uint64_t off = from; off + kRecordHeaderSize <= end;) {
    if (!Fill(off, kRecordHeaderSize)) return false;
    const uint8_t* base = reinterpret_cast<const uint8_t*>(buf_.data());
    uint64_t stop = buf_start_ + buf_.size() - kRecordHeaderSize;
    for (; off <= stop && off + kRecordHeaderSize <= end; off++) {
      const uint8_t* p = base + (off - buf_start_);
      // The header CRC first: most offsets fail it, and that check allocates nothing.
      if (DecodeFixed32(p) != crc32c::Value(p + 4, kRecordHeaderSize - 4)) continue;
      RecordHeader h;
      if (DecodeRecordHeader(p, &h).ok() && h.tid >= next_tid_ &&
          (h.flags & kFlagBatchStart)) {
        return true;
      }
    }
  }
  return false;
}

FileReader::Outcome FileReader::Parse(RecordRef* rec, std::string* why) {
  const uint64_t end = limit_;
  if (offset_ >= end) return Outcome::kEnd;
  if (saw_log_switch_) {
    // Nothing may follow a log switch but preallocated space that a crash kept the
    // writer from trimming.
    if (offset_ >= file_size_ || ZerosToEnd(offset_)) return Outcome::kEnd;
    *why = "data after the log-switch record";
    return Outcome::kDamage;
  }
  if (!Fill(offset_, kRecordHeaderSize)) {
    if (offset_ == file_size_ || offset_ >= end) return Outcome::kEnd;
    *why = fmt::format("truncated record header ({} of {} bytes)",
                                     file_size_ - offset_, kRecordHeaderSize);
    return Outcome::kDamage;
  }
  const uint8_t* hp = reinterpret_cast<const uint8_t*>(buf_.data()) + (offset_ - buf_start_);
  RecordHeader h;
  Status s = DecodeRecordHeader(hp, &h);
  if (!s.ok()) {
    bool zeros = std::all_of(hp, hp + kRecordHeaderSize, [](uint8_t b) { return b == 0; });
    *why = zeros ? "zero bytes where a record header belongs" : s.message();
    return Outcome::kDamage;
  }
  if (offset_ + h.length > end) return Outcome::kEnd;  // beyond the durable limit
  if (!Fill(offset_, h.length)) {
    *why = fmt::format("truncated record: {} bytes declared, {} present", h.length,
                                     file_size_ - offset_);
    return Outcome::kDamage;
  }
  hp = reinterpret_cast<const uint8_t*>(buf_.data()) + (offset_ - buf_start_);
  const uint8_t* payload = hp + kRecordHeaderSize;
  if (crc32c::Value(payload, h.payload_size()) != h.payload_crc) {
    *why = "payload checksum mismatch";
    return Outcome::kDamage;
  }
  if (h.tid != next_tid_) {
    *why = fmt::format("TID sequence break: expected {}, found {}", next_tid_, h.tid);
    return Outcome::kDamage;
  }
  if (ChainNext(chain_, hp + 4) != h.chain) {
    *why = "chain break: the record does not follow the one before it";
    return Outcome::kDamage;
  }
  rec->header = h;
  rec->payload = Bytes(payload, h.payload_size());
  rec->pos = Position{header_.file_id, offset_};
  offset_ += h.length;
  if (h.type == RecordType::kLogSwitch) saw_log_switch_ = true;
  chain_ = h.chain;
  next_tid_ = h.tid + 1;
  return Outcome::kRecord;
}

FileReader::Outcome FileReader::Next(RecordRef* rec) {
  std::string why;
  Outcome o = Parse(rec, &why);
  if (o != Outcome::kDamage) return o;
  // Bytes after the last valid record may have changed since they were buffered: in a
  // file still being written, preallocated zeros are overwritten by new records. Read
  // them again before calling them damage.
  buf_.clear();
  buf_start_ = 0;
  o = Parse(rec, &why);
  if (o != Outcome::kDamage) return o;
  return Fail(offset_, std::move(why));
}

Result<FileSummary> SummarizeFile(Env* env, const std::string& path) {
  auto r = FileReader::Open(env, path);
  if (!r.ok()) return r.status();
  FileReader& reader = **r;
  FileSummary sum;
  sum.path = path;
  sum.header = reader.header();
  auto size = env->GetFileSize(path);
  if (!size.ok()) return size.status();
  sum.bytes = *size;
  RecordRef rec;
  FileReader::Outcome out;
  while ((out = reader.Next(&rec)) == FileReader::Outcome::kRecord) {
    if (sum.records == 0) {
      sum.first_tid = rec.header.tid;
      sum.first_time_us = rec.header.timestamp_us;
    }
    sum.records++;
    sum.last_tid = rec.header.tid;
    sum.last_time_us = rec.header.timestamp_us;
    sum.records_by_type[rec.header.type]++;
    sum.ends_with_log_switch = false;
    if (rec.header.type == RecordType::kLogSwitch) {
      LogSwitchPayload ls;
      if (DecodeLogSwitch(rec.payload, &ls).ok()) {
        sum.ends_with_log_switch = true;
        sum.next_file_id = ls.next_file_id;
      }
    }
  }
  sum.end_offset = reader.offset();
  sum.last_chain = reader.chain();
  if (out == FileReader::Outcome::kDamage) sum.damage = reader.damage();
  return sum;
}

Result<TranlogSet> ListTranlogs(Env* env, const std::vector<std::string>& dirs,
                                std::string_view prefix) {
  TranlogSet set;
  for (const std::string& dir : dirs) {
    auto names = env->GetChildren(dir);
    if (!names.ok()) {
      if (names.status().IsNotFound()) continue;
      return names.status();
    }
    for (const std::string& n : *names) {
      uint64_t id;
      if (!ParseFileName(n, prefix, &id)) continue;
      std::string path = JoinPath(dir, n);
      auto [it, inserted] = set.files.emplace(id, path);
      if (!inserted) {
        return Status::Corruption(fmt::format("tranlog {} exists twice: {} and {}", id,
                                              it->second, path));
      }
    }
  }
  return set;
}

std::string GuessPrefix(Env* env, const std::string& dir) {
  auto names = env->GetChildren(dir);
  if (!names.ok()) return "tranlog";
  std::string found;
  for (const std::string& n : *names) {
    if (n.size() <= 4 || n.substr(n.size() - 4) != ".dbf") continue;
    size_t i = n.size() - 4;
    while (i > 0 && n[i - 1] >= '0' && n[i - 1] <= '9') i--;
    if (i == n.size() - 4 || i == 0) continue;
    std::string p = n.substr(0, i);
    if (p == "extent") continue;
    if (found.empty()) found = p;
    else if (found != p) return "tranlog";
  }
  return found.empty() ? "tranlog" : found;
}

namespace {

// "tranlog 4 is missing", "tranlogs 2 to 9 are missing", "tranlogs 3, 5 are missing".
// The widest gap between two files that VerifyFiles lists id by id.
constexpr uint64_t kMaxGapListed = 100000;

std::string DescribeMissing(const std::vector<uint64_t>& ids) {
  if (ids.size() == 1) return fmt::format("tranlog {} is missing", ids[0]);
  if (ids.back() - ids.front() + 1 == ids.size()) {
    return fmt::format("tranlogs {} to {} are missing", ids.front(), ids.back());
  }
  if (ids.size() > 6) {
    return fmt::format("tranlogs {}, {}, ... {} ({} files) are missing", ids[0], ids[1],
                       ids.back(), ids.size());
  }
  return fmt::format("tranlogs {} are missing", fmt::join(ids, ", "));
}

}  // namespace

VerifyReport VerifyFiles(Env* env, const std::vector<std::string>& paths,
                         const std::function<void(const std::string&)>& progress,
                         const std::function<bool(uint64_t)>& elsewhere) {
  VerifyReport rep;
  std::optional<FileSummary> prev;
  for (size_t i = 0; i < paths.size(); i++) {
    const std::string& path = paths[i];
    std::string name = BaseName(path);
    bool newest = i + 1 == paths.size();
    auto sum = SummarizeFile(env, path);
    if (!sum.ok()) {
      rep.errors.push_back(sum.status().message());
      prev.reset();
      continue;
    }
    rep.files++;
    rep.records += sum->records;
    rep.bytes += sum->bytes;
    if (sum->damage) {
      const Damage& d = *sum->damage;
      if (newest && d.zero_tail && !sum->ends_with_log_switch) {
        rep.notes.push_back(fmt::format("{}: open file, {} bytes of preallocated space after the "
                                        "last record at offset {}",
                                        name, sum->bytes - d.offset, d.offset));
      } else if (newest && !d.valid_data_after && !sum->ends_with_log_switch) {
        rep.notes.push_back(fmt::format("{}: torn tail of {} bytes at offset {} ({}); recovery cuts it",
                                        name, sum->bytes - d.offset, d.offset, d.reason));
      } else {
        rep.errors.push_back(fmt::format("{} offset {}: {}", name, d.offset, d.reason));
      }
    }
    // The ids between the previous file and this one: in directories not given
    // (`elsewhere`), or missing.
    std::vector<uint64_t> missing;
    bool gap_elsewhere = false;
    bool gap_too_wide = false;
    if (prev && sum->header.file_id > prev->header.file_id + 1 + kMaxGapListed) {
      // A gap wider than any set of directories explains (a damaged or foreign header
      // names a far-away id): named as one range, never listed id by id.
      gap_too_wide = true;
      rep.errors.push_back(fmt::format("{}: tranlogs {} to {} ({} files) are missing before it",
                                       name, prev->header.file_id + 1, sum->header.file_id - 1,
                                       sum->header.file_id - prev->header.file_id - 1));
    } else if (prev && sum->header.file_id > prev->header.file_id + 1) {
      for (uint64_t id = prev->header.file_id + 1; id < sum->header.file_id; id++) {
        if (elsewhere && elsewhere(id)) {
          rep.elsewhere.push_back(id);
          gap_elsewhere = true;
        } else {
          missing.push_back(id);
        }
      }
    }
    if (!missing.empty()) {
      rep.errors.push_back(fmt::format("{}: {} before it", name, DescribeMissing(missing)));
    } else if (prev && !gap_elsewhere && !gap_too_wide) {
      const FileHeader& h = sum->header;
      if (!prev->ends_with_log_switch) {
        rep.errors.push_back(fmt::format("{}: does not end with a log switch but a newer file follows",
                                         BaseName(prev->path)));
      } else if (prev->next_file_id != h.file_id) {
        rep.errors.push_back(fmt::format("{}: log switch names tranlog {}, next file is {}",
                                         BaseName(prev->path), prev->next_file_id, h.file_id));
      }
      if (h.lineage == prev->header.lineage &&
          (h.first_tid != prev->last_tid + 1 || h.start_chain != prev->last_chain)) {
        rep.errors.push_back(fmt::format(
            "{} offset 0: chain break between files (expected TID {} chain {:016x}, header has "
            "TID {} chain {:016x})",
            name, prev->last_tid + 1, prev->last_chain, h.first_tid, h.start_chain));
      }
    }
    if (progress) {
      progress(fmt::format("{}: {} records, TID {}..{}, {} bytes{}", name, sum->records,
                           sum->first_tid, sum->last_tid, sum->bytes,
                           !sum->damage             ? ""
                           : sum->damage->zero_tail ? " (open)"
                                                    : " (damaged)"));
    }
    prev = std::move(*sum);
  }
  return rep;
}

}  // namespace tranship::tranlog
