#include "tranlog/writer.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"

namespace tranship::tranlog {

std::string PathFor(const WriterOptions& o, uint64_t file_id) {
  const std::string& dir = o.dirs[(file_id - 1) % o.dirs.size()];
  return JoinPath(dir, FileName(o.prefix, file_id));
}

Result<std::unique_ptr<Writer>> Writer::CreateFile(const WriterOptions& o, Lineage lineage,
                                                   uint64_t file_id, uint64_t next_tid,
                                                   uint64_t chain) {
  std::unique_ptr<Writer> w(new Writer(o));
  w->lineage_ = lineage;
  w->file_id_ = file_id;
  w->next_tid_ = next_tid;
  w->chain_ = chain;
  TRANSHIP_RETURN_IF_ERROR(w->OpenNewFile(file_id));
  return w;
}

Result<std::unique_ptr<Writer>> Writer::OpenExisting(const WriterOptions& o,
                                                     const FileHeader& header,
                                                     const std::string& path,
                                                     uint64_t end_offset, uint64_t next_tid,
                                                     uint64_t chain) {
  std::unique_ptr<Writer> w(new Writer(o));
  auto f = o.env->NewWritableFile(path, /*truncate=*/false);
  if (!f.ok()) return f.status();
  if ((*f)->Size() != end_offset) {
    TRANSHIP_RETURN_IF_ERROR((*f)->Truncate(end_offset));
    TRANSHIP_RETURN_IF_ERROR((*f)->Sync());
  }
  w->file_ = std::move(*f);
  w->path_ = path;
  w->prealloc_end_ = end_offset;
  w->lineage_ = header.lineage;
  w->file_id_ = header.file_id;
  w->size_ = end_offset;
  w->next_tid_ = next_tid;
  w->chain_ = chain;
  return w;
}

Status Writer::OpenNewFile(uint64_t file_id) {
  std::string path = PathFor(opts_, file_id);
  TRANSHIP_RETURN_IF_ERROR(opts_.env->CreateDirs(DirName(path)));
  auto f = opts_.env->NewWritableFile(path, /*truncate=*/true);
  if (!f.ok()) return f.status();
  FileHeader h;
  h.lineage = lineage_;
  h.file_id = file_id;
  h.first_tid = next_tid_;
  h.start_chain = chain_;
  h.created_us = NowMicros();
  std::string hdr = EncodeFileHeader(h);
  Status s = (*f)->Append(AsBytes(hdr));
  if (s.ok()) s = (*f)->Sync();
  if (s.ok()) s = opts_.env->SyncDir(DirName(path));
  if (!s.ok()) {
    (void)(*f)->Close();
    (void)opts_.env->RemoveFile(path);
    return s;
  }
  file_ = std::move(*f);
  path_ = path;
  file_id_ = file_id;
  size_ = hdr.size();
  prealloc_end_ = size_;
  bytes_written_ += hdr.size();
  need_new_file_ = false;
  return Status::OK();
}

uint64_t Writer::Add(RecordType type, uint8_t flags, uint64_t timestamp_us, Bytes payload) {
  if (pending_.empty()) {
    flags |= kFlagBatchStart;
    batch_next_tid_ = next_tid_;
    batch_chain_ = chain_;
    batch_timestamp_us_ = last_timestamp_us_;
  }
  uint64_t tid = next_tid_++;
  chain_ = AppendRecord(&pending_, type, flags, tid, timestamp_us, chain_, payload);
  last_timestamp_us_ = timestamp_us;
  return tid;
}

Status Writer::Flush() {
  if (pending_.empty()) return Status::OK();
  Status s;
  if (need_new_file_) s = OpenNewFile(file_id_ + 1);
  if (s.ok()) s = file_->Append(AsBytes(pending_));
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) {
    // Cut whatever reached the file; the batch's TIDs and chain are given back.
    if (file_ && !need_new_file_) {
      prealloc_end_ = size_;
      Status t = file_->Truncate(size_);
      if (!t.ok()) TS_LOG_ERROR("cannot cut {} back to {} bytes: {}", path_, size_, t.ToString());
    }
    next_tid_ = batch_next_tid_;
    chain_ = batch_chain_;
    last_timestamp_us_ = batch_timestamp_us_;
    pending_.clear();
    return s;
  }
  size_ += pending_.size();
  bytes_written_ += pending_.size();
  pending_.clear();
  return Status::OK();
}

void Writer::Preallocate() {
  if (!file_ || need_new_file_ || prealloc_end_ >= size_ + kPreallocLowWater) return;
  // Not far past the rotation size: the space would only be cut again.
  uint64_t room = opts_.max_file_bytes + kPreallocLowWater > size_
                      ? opts_.max_file_bytes + kPreallocLowWater - size_
                      : 0;
  uint64_t bytes = std::min<uint64_t>(kPreallocChunk, room);
  if (bytes <= prealloc_end_ - std::min(prealloc_end_, size_)) return;
  Status s = file_->Preallocate(bytes);
  if (s.ok()) {
    prealloc_end_ = size_ + bytes;
  } else {
    prealloc_end_ = size_;
    TS_LOG_DEBUG("cannot preallocate {} bytes in {}: {}", bytes, path_, s.ToString());
  }
}

Status Writer::Close() {
  if (!file_) return Status::OK();
  Status s = file_->Close();  // cuts the preallocated space
  file_.reset();
  return s;
}

Status Writer::Rotate(uint64_t timestamp_us) {
  if (need_new_file_) return OpenNewFile(file_id_ + 1);
  TRANSHIP_RETURN_IF_ERROR(Flush());
  std::string payload = EncodeLogSwitch(LogSwitchPayload{file_id_ + 1});
  Add(RecordType::kLogSwitch, 0, timestamp_us, AsBytes(payload));
  TRANSHIP_RETURN_IF_ERROR(Flush());
  Status c = file_->Close();  // cuts the preallocated space: closed files end at their log switch
  if (!c.ok()) TS_LOG_WARN("closing {}: {}", path_, c.ToString());
  file_.reset();
  prealloc_end_ = 0;
  need_new_file_ = true;
  Status s = OpenNewFile(file_id_ + 1);
  if (!s.ok()) {
    TS_LOG_ERROR("cannot start tranlog {}: {} (will retry)", file_id_ + 1, s.ToString());
  }
  return s;
}

}  // namespace tranship::tranlog
