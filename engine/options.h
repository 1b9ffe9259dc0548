#pragma once
// What a stone's engine is opened with, and the counters it reports (the stone's `info`
// reply and metrics read them).

#include <cstdint>
#include <string>
#include <vector>

#include "base/env.h"

namespace tranship {

struct EngineOptions {
  std::string extent_dir;                  // holds extent0.dbf, the lock and the markers
  std::vector<std::string> tranlog_dirs;   // used as a circular list: file N goes to
                                           // tranlog_dirs[(N - 1) % size]
  std::string tranlog_prefix = "tranlog";
  uint64_t tranlog_size_bytes = 100ull << 20;  // rotate once a file reaches this size
  uint32_t checkpoint_interval_s = 300;        // 0: only explicit and clean-stop checkpoints
  // While commits go on, a checkpoint's extent and a full backup write the state at most
  // this fast, so that the commits' fdatasyncs do not queue behind them (0: no limit).
  // The clean stop and entering restore mode write at the disk's speed.
  uint64_t state_write_bytes_per_s = 16ull << 20;
  bool restore_mode = false;                   // no writes accepted (startstone -R)
  Env* env = nullptr;                          // nullptr: Env::Default()
  std::string stone_name = "the stone";        // named in operator messages
};

// The reason of Engine::Open's failure when the repository cannot be recovered.
inline constexpr char kReasonCannotRecover[] = "cannot-recover";

struct EngineStats {
  uint64_t commits = 0;         // acknowledged commits since open
  uint64_t conflicts = 0;
  uint64_t batches = 0;         // group-commit batches (= fdatasyncs of tranlogs)
  uint64_t tranlog_bytes = 0;   // bytes appended since open
  uint64_t keys = 0;
  uint64_t last_checkpoint_tid = 0;
  uint64_t last_checkpoint_us = 0;
  bool restore_mode = false;
  bool commits_suspended = false;
  std::string last_error;       // last commit/checkpoint failure, empty if none since
};

}  // namespace tranship
