#pragma once
// Appends records to the newest tranlog file and rotates files.
//
// The writer owns the history's running state: the next TID, the chain value and the
// current file. Records are added to a pending batch (Add) and made durable together
// (Flush: one write, one fdatasync). A failed Flush (disk full, I/O error) cuts the file
// back to where it was and rolls the TID and chain back, so the writer stays usable and
// nothing acknowledged is touched.
//
// REQUIRES: one thread at a time (the engine's log-writer thread).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "tranlog/format.h"
#include "tranlog/types.h"

namespace tranship::tranlog {

struct WriterOptions {
  Env* env = nullptr;
  std::vector<std::string> dirs;   // file N lives in dirs[(N - 1) % dirs.size()]
  std::string prefix = "tranlog";
  uint64_t max_file_bytes = 100ull << 20;
};

// Where file `file_id` lives.
std::string PathFor(const WriterOptions& o, uint64_t file_id);

class Writer {
 public:
  // Starts a new file `file_id` whose first record will carry `next_tid` and follow
  // `chain` (a new repository, or the successor of a file that ends in a log switch).
  static Result<std::unique_ptr<Writer>> CreateFile(const WriterOptions& o, Lineage lineage,
                                                    uint64_t file_id, uint64_t next_tid,
                                                    uint64_t chain);
  // Continues an existing file whose valid records end at `end_offset` (recovery has
  // already cut any torn tail); anything after `end_offset` is truncated.
  static Result<std::unique_ptr<Writer>> OpenExisting(const WriterOptions& o,
                                                      const FileHeader& header,
                                                      const std::string& path,
                                                      uint64_t end_offset, uint64_t next_tid,
                                                      uint64_t chain);

  // Adds a record to the pending batch and returns its TID.
  uint64_t Add(RecordType type, uint8_t flags, uint64_t timestamp_us, Bytes payload);
  bool HasPending() const { return !pending_.empty(); }
  // Writes the pending batch and fdatasyncs it. On failure the batch is dropped and the
  // writer is as it was before the first Add of the batch.
  Status Flush();
  // Ends the current file with a log switch and starts the next one. On failure the
  // writer stays on the old file (or, if only creating the next file failed, retries
  // that on the next Flush).
  Status Rotate(uint64_t timestamp_us);
  bool NeedsRotation() const { return size_ >= opts_.max_file_bytes; }
  // Keeps at least kPreallocLowWater bytes of zero-filled space ahead of the append
  // position (see WritableFile::Preallocate). Call it off the commit path: after a
  // batch was acknowledged. Failure (a full disk) is not an error: appends still work.
  void Preallocate();
  // Cuts the preallocated space and closes the file (clean stop).
  Status Close();

  void set_lineage(Lineage l) { lineage_ = l; }
  Lineage lineage() const { return lineage_; }
  uint64_t file_id() const { return file_id_; }
  const std::string& path() const { return path_; }
  // End of the durable part: everything before it has been flushed. After a rotation
  // whose new file could not be created yet, this is the end of the closed file.
  Position end() const { return Position{file_id_, size_}; }
  // The file the next Flush appends to.
  uint64_t next_write_file_id() const { return need_new_file_ ? file_id_ + 1 : file_id_; }
  uint64_t last_tid() const { return next_tid_ - 1; }
  uint64_t chain() const { return chain_; }
  uint64_t last_timestamp_us() const { return last_timestamp_us_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  explicit Writer(const WriterOptions& o) : opts_(o) {}
  Status OpenNewFile(uint64_t file_id);  // creates the file with its header, syncs it and its dir

  WriterOptions opts_;
  Lineage lineage_;
  std::unique_ptr<WritableFile> file_;
  std::string path_;
  uint64_t file_id_ = 0;
  uint64_t size_ = 0;          // durable size of the current file
  uint64_t next_tid_ = 1;      // TID of the next record to add
  uint64_t chain_ = 0;         // chain of the last added record
  uint64_t last_timestamp_us_ = 0;
  uint64_t bytes_written_ = 0;
  bool need_new_file_ = false;
  uint64_t prealloc_end_ = 0;  // the current file's zero-filled space ends here
  // 1 MiB of zeros costs about 1.3 ms to write and sync here, once per ~6,000 commits.
  static constexpr uint64_t kPreallocChunk = 1 << 20;
  static constexpr uint64_t kPreallocLowWater = 256 << 10;
  // The pending batch and what to roll back to if it fails.
  std::string pending_;
  uint64_t batch_next_tid_ = 0;
  uint64_t batch_chain_ = 0;
  uint64_t batch_timestamp_us_ = 0;
};

}  // namespace tranship::tranlog
