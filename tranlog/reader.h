#pragma once
// Reading tranlogs: one file sequentially (FileReader), a file's summary (tranlog
// info / copydbf -i), and whole-history verification (tranlog verify).
//
// Damage is told apart the way leveldb's log reader does it: bytes that do not form a
// valid record at the end of the newest file, with no valid record after them, are a
// torn tail (the writer died mid-batch; nothing there was acknowledged) and recovery
// cuts them. Anything else that fails a check is corruption, reported with the file and
// byte offset.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "tranlog/format.h"

namespace tranship::tranlog {

struct RecordRef {
  RecordHeader header;
  Bytes payload;   // valid until the next call to Next()
  Position pos;    // where the record starts
};

struct Damage {
  uint64_t offset = 0;        // first byte that is not part of a valid record
  std::string reason;         // "payload checksum mismatch", "chain break", ...
  // A valid batch-start record with a later TID follows: the damaged bytes belong to a
  // batch that was synced before a later one was written, so this is corruption.
  bool valid_data_after = false;
  // Everything from `offset` to the end of the file is zero: the preallocated space of
  // the file being written, not damage at all.
  bool zero_tail = false;
};

class FileReader {
 public:
  enum class Outcome { kRecord, kEnd, kDamage };

  // Opens `path` and checks its file header.
  static Result<std::unique_ptr<FileReader>> Open(Env* env, const std::string& path);

  const FileHeader& header() const { return header_; }
  // Reads the next record and checks its header CRC, payload CRC, chain (starting at
  // header().start_chain) and TID (starting at header().first_tid, +1 per record).
  // kEnd: the file ends exactly after the previous record (or at `limit`).
  // kDamage: damage() describes it; the reader stays at the damage.
  Outcome Next(RecordRef* rec);
  const Damage& damage() const { return damage_; }
  // Stops reading at `end` (a record boundary known to be durable), e.g. the stone's
  // durable end while the file is still being written.
  void SetLimit(uint64_t end) { limit_ = end; }
  // Continues from a record boundary known from elsewhere (an extent, a receiver's
  // acknowledged position): the next record must be at `offset` and carry `next_tid`
  // and follow `chain`.
  void SeekTo(uint64_t offset, uint64_t next_tid, uint64_t chain) {
    saw_log_switch_ = false;
    offset_ = offset;
    next_tid_ = next_tid;
    chain_ = chain;
  }

  uint64_t offset() const { return offset_; }   // end of the last good record
  uint64_t chain() const { return chain_; }     // chain of the last good record
  uint64_t next_tid() const { return next_tid_; }
  const std::string& path() const { return path_; }

 private:
  FileReader(std::string path, std::unique_ptr<RandomAccessFile> file);
  bool Fill(uint64_t offset, size_t n);   // makes [offset, offset+n) available in buf_
  Outcome Parse(RecordRef* rec, std::string* why);  // Next() without the re-read
  Outcome Fail(uint64_t offset, std::string reason);
  bool FindLaterRecord(uint64_t from);
  bool ZerosToEnd(uint64_t from);

  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t file_size_ = 0;
  uint64_t limit_ = UINT64_MAX;
  FileHeader header_;
  uint64_t offset_ = 0;
  uint64_t chain_ = 0;
  uint64_t next_tid_ = 0;
  Damage damage_;
  bool saw_log_switch_ = false;
  std::string buf_;        // file bytes [buf_start_, buf_start_ + buf_.size())
  uint64_t buf_start_ = 0;
};

// What `tranship tranlog info` prints.
struct FileSummary {
  std::string path;
  FileHeader header;
  uint64_t bytes = 0;         // file size
  uint64_t end_offset = 0;    // end of the last valid record
  uint64_t records = 0;
  uint64_t first_tid = 0, last_tid = 0;        // 0 when the file has no records
  uint64_t first_time_us = 0, last_time_us = 0;
  uint64_t last_chain = 0;
  std::map<RecordType, uint64_t> records_by_type;
  bool ends_with_log_switch = false;  // the file is closed: its successor exists
  uint64_t next_file_id = 0;          // from the log switch
  std::optional<Damage> damage;
};
Result<FileSummary> SummarizeFile(Env* env, const std::string& path);

// The tranlog files of one history: `<prefix><N>.dbf` found in `dirs`, by file id.
struct TranlogSet {
  std::map<uint64_t, std::string> files;  // file id -> path
  uint64_t newest() const { return files.empty() ? 0 : files.rbegin()->first; }
  uint64_t oldest() const { return files.empty() ? 0 : files.begin()->first; }
};
Result<TranlogSet> ListTranlogs(Env* env, const std::vector<std::string>& dirs,
                                std::string_view prefix);
// Finds the prefix shared by the tranlog files in `dir` ("tranlog" if several or none).
std::string GuessPrefix(Env* env, const std::string& dir);

// Verifies files in order: each file's records, that file ids have no gap, that each
// older file ends with a log switch naming its successor, and that TIDs and the chain
// continue across files. A torn tail of the newest file is reported as a note, not an
// error. `progress` (may be null) is called after each file with a one-line summary.
// `elsewhere` (may be null) says which file ids are known to lie in directories not
// given (one directory of a stone with several): a gap of only such ids is not missing,
// and the checks across it (log switch, TIDs, chain) are left undone.
struct VerifyReport {
  uint64_t files = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::vector<std::string> errors;   // "tranlog3.dbf offset 4096: payload checksum mismatch"
  std::vector<std::string> notes;    // "tranlog7.dbf: torn tail of 57 bytes at offset 81920"
  std::vector<uint64_t> elsewhere;   // ids in the gaps that `elsewhere` accounted for
  bool ok() const { return errors.empty(); }
};
VerifyReport VerifyFiles(Env* env, const std::vector<std::string>& paths,
                         const std::function<void(const std::string&)>& progress,
                         const std::function<bool(uint64_t)>& elsewhere = nullptr);

}  // namespace tranship::tranlog
