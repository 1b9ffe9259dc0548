#pragma once
// A stone's configuration file, etc/conf.d/NAME.conf, in the GemStone/S style:
//
//   # comment
//   STN_TRAN_LOG_DIRECTORIES = /data/prod/tranlog, /data2/prod/tranlog;
//   STN_TRAN_LOG_SIZES = 100;          # MB per tranlog file
//   STN_TRAN_LOG_PREFIX = tranlog;
//   STN_CHECKPOINT_INTERVAL = 300;     # seconds, 0 = only explicit checkpoints
//
// One `KEY = value;` statement per line. Unknown keys and repeated keys are errors,
// so that a typo never silently falls back to a default. The format is described for
// operators in docs/home-layout.md.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tranship::home {

struct StoneConfig {
  // Empty: the stone's default directory data/NAME/tranlog. Relative paths are taken
  // relative to data/NAME.
  std::vector<std::string> tranlog_dirs;
  uint64_t tranlog_size_mb = 100;
  std::string tranlog_prefix = "tranlog";
  uint32_t checkpoint_interval_s = 300;
  // MB/s at most for a checkpoint's extent and a full backup while commits go on
  // (EngineOptions::state_write_bytes_per_s); 0: no limit.
  uint32_t state_write_rate_mb = 16;
};

// Parses the text of a configuration file. `source` names the file in error messages,
// which have the form "SOURCE:LINE: what is wrong".
Result<StoneConfig> ParseConfig(std::string_view text, std::string_view source = "config");

// The text `stone create` writes: every key with its value and a comment.
std::string FormatConfig(const StoneConfig& config);

// Reads and parses `path`.
Result<StoneConfig> LoadConfig(Env* env, const std::string& path);

}  // namespace tranship::home
