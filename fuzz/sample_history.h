#pragma once
// A small tranlog history written by the real writer into a MemoryEnv, shaped like a
// primary's after a commit-restore of an older backup: the primary's files that the
// handshake target checks Hellos against, and the valid examples the seed corpora
// start from.
//
//   tranlog1  lineage A: lineage start (new repository), commits, log switch
//   tranlog2  lineage A: commits up to `junction`, then commits of an abandoned branch
//   tranlog3  lineage B: lineage start (parent A at `junction`), commits, a checkpoint;
//             being written (preallocated zeros after its last record)
// Commits come in batches of up to three records with payloads of a few hundred bytes.

#include <cstdint>
#include <string>

#include "tranlog/types.h"
#include "fuzz/memory_env.h"

namespace tranship::fuzz {

struct SampleHistory {
  static constexpr const char* kDir = "/primary/tranlog";
  static constexpr uint64_t kFiles = 3;
  MemoryEnv env;
  Lineage parent;      // lineage A
  Lineage child;       // lineage B
  DurableEnd junction; // where B leaves A: A's last record on the current history
  DurableEnd end;      // after the last record of tranlog3
  std::string Path(uint64_t file_id) const;
};

// Writes the history; aborts if the writer fails (it cannot in memory).
void WriteSampleHistory(SampleHistory* h);

}  // namespace tranship::fuzz
