#include "logsender/disk_end.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "tranlog/reader.h"

namespace tranship::logsender {

Status SyncFileData(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  int rc = ::fdatasync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno(err, "fdatasync " + path);
  return Status::OK();
}

DiskEndScanner::DiskEndScanner(Env* env, std::vector<std::string> dirs, std::string prefix)
    : env_(env), dirs_(std::move(dirs)), prefix_(std::move(prefix)) {}

Result<DurableEnd> DiskEndScanner::Scan() {
  Result<tranlog::TranlogSet> set = tranlog::ListTranlogs(env_, dirs_, prefix_);
  if (!set.ok()) return set.status();
  if (set->files.empty()) {
    return Status::NotFound(
        fmt::format("no tranlog files ({}N.dbf) in {}", prefix_, fmt::join(dirs_, ", ")));
  }
  // Start where the last scan ended if that file is still there, else at the header of
  // the newest file but one (so that the end carries a commit time even when the newest
  // file has no record yet).
  DurableEnd end;
  uint64_t file_id;
  bool continuing =
      known_ && set->files.count(known_->pos.file_id) && known_->pos.file_id >= set->newest() - 1;
  if (continuing) {
    end = *known_;
    file_id = known_->pos.file_id;
  } else {
    file_id = set->files.count(set->newest() - 1) ? set->newest() - 1 : set->newest();
  }
  std::string last_path;
  while (true) {
    auto it = set->files.find(file_id);
    if (it == set->files.end()) break;
    Result<std::unique_ptr<tranlog::FileReader>> r = tranlog::FileReader::Open(env_, it->second);
    if (!r.ok()) {
      // A file shorter than its header is a rotation in progress (or cut short): the
      // end is in the file before it.
      if (r.status().IsCorruption() && last_path.size()) break;
      return r.status();
    }
    tranlog::FileReader& reader = **r;
    last_path = it->second;
    if (continuing && end.pos.file_id == file_id && end.pos.offset > 0) {
      reader.SeekTo(end.pos.offset, end.tid + 1, end.chain);
    } else {
      bool continues =
          reader.header().first_tid == end.tid + 1 && reader.header().start_chain == end.chain;
      if (continuing && !continues && reader.header().lineage == end.lineage) {
        return Status::Corruption(fmt::format(
            "{} does not continue the tranlog before it (starts at TID {}, expected {})",
            it->second, reader.header().first_tid, end.tid + 1));
      }
      // A file of another lineage after a file without a log switch is the first file of
      // a commit-restore, which continues an older point of the history (the files
      // before it may hold an abandoned branch): the end is in the new lineage.
      if (!continuing || !continues) {
        end.lineage = reader.header().lineage;
        end.commit_time_us = 0;
      }
      end.pos = Position{file_id, reader.offset()};
      end.tid = reader.header().first_tid - 1;
      end.chain = reader.header().start_chain;
      continuing = true;
    }
    tranlog::RecordRef rec;
    tranlog::FileReader::Outcome out;
    while ((out = reader.Next(&rec)) == tranlog::FileReader::Outcome::kRecord) {
      end.pos = Position{file_id, reader.offset()};
      end.tid = rec.header.tid;
      end.chain = rec.header.chain;
      end.commit_time_us = rec.header.timestamp_us;
      if (rec.header.type == tranlog::RecordType::kLineageStart) {
        tranlog::LineageStartPayload ls;
        if (tranlog::DecodeLineageStart(rec.payload, &ls).ok()) end.lineage = ls.lineage;
      }
    }
    // Damage ends the scan: only what precedes it is shipped. At the end of the records
    // (or at preallocated zeros) a successor file, if there is one, must continue them.
    bool at_end = out == tranlog::FileReader::Outcome::kEnd || reader.damage().zero_tail;
    if (!at_end || !set->files.count(file_id + 1)) break;
    file_id++;
  }
  // Everything read was written before this sync started: durable once it returns.
  auto newest = set->files.find(end.pos.file_id);
  if (newest != set->files.end()) TRANSHIP_RETURN_IF_ERROR(SyncFileData(newest->second));
  known_ = end;
  return end;
}

}  // namespace tranship::logsender
