#pragma once
// Checking a chunk of tranlog file content before a single byte of it is written.
//
// A logreceiver gets file content in Data frames: whole records (and at offset 0 the
// file header) that must continue exactly where its archive ends. CheckChunk applies
// the same checks the tranlog reader applies on disk (header CRC, length bounds, known
// type, payload CRC, TID sequence, chain) plus the stream rules: the chunk starts at
// the archive's end, a record is never cut at the end of a chunk, nothing follows a log
// switch in its file, and the file after a log switch starts at offset 0 with a header
// that continues the TID and chain. At a junction the stream goes on, without a log
// switch, at offset 0 of a later file: the first file of a new lineage, whose header
// continues the TID and chain and names another lineage. The same function serves any reader of a record
// stream that must validate a buffer before trusting it.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tranlog/types.h"

namespace tranship::logreceiver {

// Where a record stream stands: after the last valid record (or a file header).
struct StreamEnd {
  Lineage lineage;              // of the last record (a lineage-start record changes it)
  Position pos;                 // end of the last record (a record boundary)
  uint64_t tid = 0;             // TID of the last record; the next one carries tid + 1
  uint64_t chain = 0;           // chain value of the last record
  uint64_t commit_time_us = 0;  // timestamp of the last record (0 if unknown)
  bool log_switched = false;    // the last record is a log switch: `pos` is the next
                                // file's offset 0 and that file does not exist yet
  // No predecessor is known (an empty archive): the next chunk must be a whole file
  // from offset 0 of `pos.file_id` (any file id when it is 0), and its header is taken
  // as it is.
  bool anchor = false;
  bool operator==(const StreamEnd&) const = default;
  DurableEnd ToDurableEnd() const;
};

// Checks `raw` as the content of tranlog `file_id` from byte `offset`, continuing
// `*end`. On success *end is the stream's new end. On failure *end is unchanged and the
// Corruption status names the file (`file_name`) and the offset of the first bad byte.
Status CheckChunk(std::string_view file_name, uint64_t file_id, uint64_t offset,
                  std::string_view raw, StreamEnd* end);

}  // namespace tranship::logreceiver
