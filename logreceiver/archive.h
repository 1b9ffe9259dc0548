#pragma once
// The archive directory of a logreceiver: copies of the primary's tranlog files, with
// the primary's names, byte-identical to them.
//
// Scan() finds where the archive durably ends: the newest file's last valid record.
// An incomplete tail after it (a write torn by a crash, preallocated zeros, a file
// created but never given its header) was never acknowledged, so it is cut and the cut
// synced; damage with valid records after it is corruption and stops the receiver.
//
// Writing: Append() writes checked chunks (see record_check.h) at the end of the
// archive, creating the next file (mode 0600) at a file boundary; Sync() makes all of
// it durable (fdatasync of the files, fsync of the directory after a create) and only
// then moves durable_end(). A failed Append or Sync leaves written-but-unsynced bytes
// behind: CutBack() truncates them so the archive again ends at durable_end().
//
// REQUIRES: one thread at a time (the logreceiver hands it to a write job on its thread
// pool and takes it back when the job ends); one Archive per directory and prefix (the
// daemon's pid file lock sees to that).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "tranlog/reader.h"
#include "logreceiver/record_check.h"

namespace tranship::logreceiver {

class Archive {
 public:
  Archive(Env* env, std::string dir, std::string prefix);
  ~Archive();

  // Finds the durable end, cutting an incomplete tail. An empty archive ends at an
  // anchor (empty() is true). Corruption names the file and offset.
  Status Scan();
  bool empty() const { return durable_.anchor; }

  // Writes `raw`, the content of tranlog `file_id` from `offset`, which CheckChunk
  // accepted against written_end() and turned into `after`. On failure nothing after
  // durable_end() can be trusted: call CutBack().
  Status Append(uint64_t file_id, uint64_t offset, std::string_view raw,
                const StreamEnd& after);
  // Makes everything appended durable. On failure call CutBack().
  Status Sync();

  // Truncates what was written after durable_end() (removing a file created since), so
  // the next Append continues from durable_end().
  Status CutBack();

  const StreamEnd& durable_end() const { return durable_; }
  const StreamEnd& written_end() const { return written_; }
  uint64_t unsynced_bytes() const { return unsynced_bytes_; }
  std::string FileName(uint64_t file_id) const;
  std::string PathFor(uint64_t file_id) const;
  const std::string& dir() const { return dir_; }

 private:
  Result<bool> HasHeaderBytes(const std::string& path, uint64_t size);
  bool StartsNewLineage(const tranlog::TranlogSet& set, uint64_t id);
  Status ScanNewest(uint64_t file_id, const std::string& path);

  Env* env_;
  std::string dir_;
  std::string prefix_;
  StreamEnd durable_;
  StreamEnd written_;
  // The file being appended to (file id, open handle); may lag behind written_.pos
  // after a log switch until the next file's first chunk creates it.
  uint64_t file_id_ = 0;
  std::unique_ptr<WritableFile> file_;
  uint64_t file_durable_size_ = 0;  // size of file_ at the last successful sync
  bool created_unsynced_ = false;   // file_ was created after the last successful sync
  bool dir_dirty_ = false;          // a create or remove awaits the directory fsync
  uint64_t unsynced_bytes_ = 0;
  static constexpr uint64_t kWritebackBytes = 1u << 20;
  uint64_t unhinted_bytes_ = 0;  // appended since the last StartWriteback()
};

}  // namespace tranship::logreceiver
