#include "logreceiver/archive.h"

#include <fmt/format.h>

#include "base/log.h"
#include "tranlog/format.h"
#include "tranlog/reader.h"

namespace tranship::logreceiver {
namespace tl = tranlog;

Archive::Archive(Env* env, std::string dir, std::string prefix)
    : env_(env), dir_(std::move(dir)), prefix_(std::move(prefix)) {
  durable_.anchor = true;
  written_ = durable_;
}

Archive::~Archive() = default;

std::string Archive::FileName(uint64_t file_id) const { return tl::FileName(prefix_, file_id); }
std::string Archive::PathFor(uint64_t file_id) const { return JoinPath(dir_, FileName(file_id)); }

Status Archive::Scan() {
  file_.reset();
  file_id_ = 0;
  created_unsynced_ = dir_dirty_ = false;
  unsynced_bytes_ = 0;
  durable_ = StreamEnd{};
  durable_.anchor = true;
  written_ = durable_;

  Result<tl::TranlogSet> set = tl::ListTranlogs(env_, {dir_}, prefix_);
  if (!set.ok()) return set.status();
  // File ids are never skipped within a lineage, so a hole in the archive is damage
  // (or files removed by hand): resuming after it would hide the hole. Only the first
  // file of a new lineage may skip ids (a junction: its header names another lineage
  // than the file before it; CheckChunk checked its TID and chain when it arrived).
  uint64_t expect = set->oldest();
  for (const auto& [id, path] : set->files) {
    if (id != expect && !StartsNewLineage(*set, id)) {
      return Status::Corruption(fmt::format(
          "the archive {} has no {} between {} and {}: restore the missing file or reseed "
          "this standby", dir_, FileName(expect), FileName(set->oldest()), FileName(id)));
    }
    expect = id + 1;
  }
  while (!set->files.empty()) {
    auto newest = std::prev(set->files.end());
    Result<uint64_t> size = env_->GetFileSize(newest->second);
    if (!size.ok()) return size.status();
    Result<bool> started = HasHeaderBytes(newest->second, *size);
    if (!started.ok()) return started.status();
    if (*started) return ScanNewest(newest->first, newest->second);
    // Created but never given its header (a crash right after the create): nothing in
    // it was ever acknowledged.
    TS_LOG_WARN("removing {}: {} bytes without a file header (an interrupted create)",
                newest->second, *size);
    TRANSHIP_RETURN_IF_ERROR(env_->RemoveFile(newest->second));
    TRANSHIP_RETURN_IF_ERROR(env_->SyncDir(dir_));
    set->files.erase(newest);
  }
  return Status::OK();  // empty: the anchor
}

bool Archive::StartsNewLineage(const tl::TranlogSet& set, uint64_t id) {
  auto it = set.files.find(id);
  if (it == set.files.begin() || it == set.files.end()) return false;
  auto header = [&](const std::string& path, tl::FileHeader* h) {
    Result<std::unique_ptr<RandomAccessFile>> f = env_->NewRandomAccessFile(path);
    if (!f.ok()) return false;
    uint8_t buf[tl::kFileHeaderSize];
    Result<size_t> n = (*f)->Read(0, sizeof(buf), buf);
    return n.ok() && *n == sizeof(buf) && tl::DecodeFileHeader(Bytes(buf, sizeof(buf)), h).ok();
  };
  tl::FileHeader now, before;
  return header(it->second, &now) && header(std::prev(it)->second, &before) &&
         now.lineage != before.lineage && now.file_id == id;
}

Result<bool> Archive::HasHeaderBytes(const std::string& path, uint64_t size) {
  if (size < tl::kFileHeaderSize) return false;
  Result<std::unique_ptr<RandomAccessFile>> f = env_->NewRandomAccessFile(path);
  if (!f.ok()) return f.status();
  uint8_t buf[tl::kFileHeaderSize];
  Result<size_t> n = (*f)->Read(0, sizeof(buf), buf);
  if (!n.ok()) return n.status();
  for (size_t i = 0; i < *n; i++) {
    if (buf[i] != 0) return true;
  }
  return false;  // zeros: the blocks of a create whose data never reached the disk
}

Status Archive::ScanNewest(uint64_t file_id, const std::string& path) {
  Result<std::unique_ptr<tl::FileReader>> reader = tl::FileReader::Open(env_, path);
  if (!reader.ok()) {
    return Status::Corruption(fmt::format(
        "the newest archive file {} has a bad header ({}): move it aside if it is the "
        "remains of a crash, or reseed this standby", path, reader.status().message()));
  }
  tl::FileReader& r = **reader;
  const tl::FileHeader& h = r.header();
  if (h.file_id != file_id) {
    return Status::Corruption(fmt::format("{}: its header says tranlog {}", path, h.file_id));
  }
  StreamEnd end;
  end.lineage = h.lineage;
  end.pos = Position{file_id, tl::kFileHeaderSize};
  end.tid = h.first_tid - 1;
  end.chain = h.start_chain;
  tl::RecordRef rec;
  tl::FileReader::Outcome out;
  while ((out = r.Next(&rec)) == tl::FileReader::Outcome::kRecord) {
    end.tid = rec.header.tid;
    end.chain = rec.header.chain;
    end.commit_time_us = rec.header.timestamp_us;
    end.pos.offset = rec.pos.offset + rec.header.length;
    if (rec.header.type == tl::RecordType::kLineageStart) {
      tl::LineageStartPayload ls;
      if (tl::DecodeLineageStart(rec.payload, &ls).ok()) end.lineage = ls.lineage;
    }
    end.log_switched = rec.header.type == tl::RecordType::kLogSwitch;
  }
  if (out == tl::FileReader::Outcome::kDamage && r.damage().valid_data_after &&
      !r.damage().zero_tail) {
    return Status::Corruption(fmt::format(
        "{} offset {}: {} (valid records follow it): the archive is damaged; reseed this "
        "standby", path, r.damage().offset, r.damage().reason));
  }
  std::string why =
      out == tl::FileReader::Outcome::kDamage ? " (" + r.damage().reason + ")" : "";
  reader->reset();
  Result<uint64_t> size = env_->GetFileSize(path);
  if (!size.ok()) return size.status();
  if (*size > end.pos.offset) {
    // Never acknowledged: the sender resends it from the durable end.
    TS_LOG_INFO("cutting an incomplete tail of {} bytes from {} at offset {}{}",
                *size - end.pos.offset, path, end.pos.offset, why);
  }
  Result<std::unique_ptr<WritableFile>> f = env_->NewWritableFile(path, false);
  if (!f.ok()) return f.status();
  if ((*f)->Size() != end.pos.offset) {
    TRANSHIP_RETURN_IF_ERROR((*f)->Truncate(end.pos.offset));
    TRANSHIP_RETURN_IF_ERROR((*f)->Sync());
  }
  if (end.log_switched) {
    end.pos = Position{file_id + 1, 0};
    TRANSHIP_RETURN_IF_ERROR((*f)->Close());
  } else {
    file_ = std::move(*f);
    file_id_ = file_id;
    unhinted_bytes_ = 0;
    file_durable_size_ = end.pos.offset;
  }
  durable_ = written_ = end;
  return Status::OK();
}

Status Archive::Append(uint64_t file_id, uint64_t offset, std::string_view raw,
                       const StreamEnd& after) {
  if (file_id != file_id_ || !file_) {
    // A new file starts only once the one before it is durable: a crash then leaves at
    // most the newest file incomplete, which Scan() knows how to cut.
    if (unsynced_bytes_ > 0) TRANSHIP_RETURN_IF_ERROR(Sync());
    if (file_) {
      Status closed = file_->Close();
      file_.reset();
      file_id_ = 0;
      TRANSHIP_RETURN_IF_ERROR(closed);
    }
    std::string path = PathFor(file_id);
    if (offset == 0) {
      Result<std::unique_ptr<WritableFile>> f = env_->NewWritableFile(path, true);
      if (!f.ok()) return f.status();
      file_ = std::move(*f);
      created_unsynced_ = true;
      dir_dirty_ = true;
      file_durable_size_ = 0;
    } else {
      Result<std::unique_ptr<WritableFile>> f = env_->NewWritableFile(path, false);
      if (!f.ok()) return f.status();
      if ((*f)->Size() != offset) {
        return Status::IOError(fmt::format("{} has {} bytes where the archive ends at {}",
                                           path, (*f)->Size(), offset));
      }
      file_ = std::move(*f);
      file_durable_size_ = offset;
    }
    file_id_ = file_id;
    unhinted_bytes_ = 0;
  }
  if (file_->Size() != offset) {
    return Status::IOError(fmt::format("{}: appending at {} but the file has {} bytes",
                                       file_->path(), offset, file_->Size()));
  }
  TRANSHIP_RETURN_IF_ERROR(file_->Append(AsBytes(raw)));
  unsynced_bytes_ += raw.size();
  // A catch-up appends many large frames before one Sync(): the disk starts on each
  // while the next is checked and written, instead of all of it waiting for Sync().
  unhinted_bytes_ += raw.size();
  if (unhinted_bytes_ >= kWritebackBytes) {
    file_->StartWriteback();
    unhinted_bytes_ = 0;
  }
  written_ = after;
  return Status::OK();
}

Status Archive::Sync() {
  if (file_ && (unsynced_bytes_ > 0 || created_unsynced_)) {
    TRANSHIP_RETURN_IF_ERROR(file_->Sync());
  }
  if (dir_dirty_) {
    TRANSHIP_RETURN_IF_ERROR(env_->SyncDir(dir_));
    dir_dirty_ = false;
  }
  created_unsynced_ = false;
  if (file_) file_durable_size_ = file_->Size();
  unsynced_bytes_ = 0;
  durable_ = written_;
  return Status::OK();
}

Status Archive::CutBack() {
  unsynced_bytes_ = 0;
  written_ = durable_;
  if (!file_) return Status::OK();
  if (created_unsynced_) {
    std::string path = file_->path();
    file_.reset();
    file_id_ = 0;
    created_unsynced_ = false;
    TRANSHIP_RETURN_IF_ERROR(env_->RemoveFile(path));
    dir_dirty_ = false;
    return env_->SyncDir(dir_);
  }
  // No sync of the cut: the bytes cut were checked records, so if a crash brings them
  // back, Scan() keeps them (or cuts a torn part). And a full disk fails syncs.
  if (file_->Size() != file_durable_size_) return file_->Truncate(file_durable_size_);
  return Status::OK();
}

}  // namespace tranship::logreceiver
