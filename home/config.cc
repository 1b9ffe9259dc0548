#include "home/config.h"

#include <charconv>
#include <map>

#include <fmt/format.h>

namespace tranship::home {
namespace {

constexpr uint64_t kMaxTranlogSizeMb = 1u << 20;        // 1 TiB per file is plenty
constexpr uint32_t kMaxCheckpointIntervalS = 7 * 86400;  // a week
constexpr uint32_t kMaxStateWriteRateMb = 1000000;       // a TB/s: no disk is that fast

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> SplitList(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    size_t comma = s.find(',');
    out.push_back(Trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool IsKeyChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// One configuration key: its name and how a value is checked and stored. Each returns an
// empty string or what is wrong with the value, in words for the operator. A new key is
// one row of kKeys (and one line of FormatConfig and docs/home-layout.md).
struct Key {
  std::string_view name;
  std::string (*apply)(std::string_view value, StoneConfig* config);
};

std::string ApplyTranlogDirs(std::string_view value, StoneConfig* config) {
  config->tranlog_dirs.clear();
  for (std::string_view dir : SplitList(value)) {
    if (dir.empty()) return "empty directory name in STN_TRAN_LOG_DIRECTORIES";
    config->tranlog_dirs.emplace_back(dir);
  }
  return "";
}

std::string ApplyTranlogSizes(std::string_view value, StoneConfig* config) {
  // GemStone lists one size per directory; tranship rotates every file at one size.
  uint64_t first = 0;
  for (std::string_view item : SplitList(value)) {
    uint64_t mb;
    if (!ParseUint(item, &mb) || mb == 0 || mb > kMaxTranlogSizeMb) {
      return fmt::format("STN_TRAN_LOG_SIZES must be a size in MB from 1 to {}, not '{}'",
                         kMaxTranlogSizeMb, item);
    }
    if (first != 0 && mb != first) {
      return "STN_TRAN_LOG_SIZES lists different sizes; tranship uses one size for "
             "every directory";
    }
    first = mb;
  }
  config->tranlog_size_mb = first;
  return "";
}

std::string ApplyTranlogPrefix(std::string_view value, StoneConfig* config) {
  if (value.empty() || value.find_first_of("/ \t,") != std::string_view::npos) {
    return fmt::format("STN_TRAN_LOG_PREFIX must be a file name prefix without '/', "
                       "blanks or commas, not '{}'", value);
  }
  config->tranlog_prefix = std::string(value);
  return "";
}

std::string ApplyCheckpointInterval(std::string_view value, StoneConfig* config) {
  uint64_t s;
  if (!ParseUint(value, &s) || s > kMaxCheckpointIntervalS) {
    return fmt::format("STN_CHECKPOINT_INTERVAL must be seconds from 0 to {}, not '{}'",
                       kMaxCheckpointIntervalS, value);
  }
  config->checkpoint_interval_s = static_cast<uint32_t>(s);
  return "";
}

std::string ApplyStateWriteRate(std::string_view value, StoneConfig* config) {
  uint64_t mb;
  if (!ParseUint(value, &mb) || mb > kMaxStateWriteRateMb) {
    return fmt::format("STN_STATE_WRITE_RATE must be MB per second from 0 (no limit) to {}, "
                       "not '{}'", kMaxStateWriteRateMb, value);
  }
  config->state_write_rate_mb = static_cast<uint32_t>(mb);
  return "";
}

constexpr Key kKeys[] = {
    {"STN_TRAN_LOG_DIRECTORIES", ApplyTranlogDirs},
    {"STN_TRAN_LOG_SIZES", ApplyTranlogSizes},
    {"STN_TRAN_LOG_PREFIX", ApplyTranlogPrefix},
    {"STN_CHECKPOINT_INTERVAL", ApplyCheckpointInterval},
    {"STN_STATE_WRITE_RATE", ApplyStateWriteRate},
};

// Applies one KEY = value; returns an empty string or what is wrong with it.
std::string Apply(std::string_view key, std::string_view value, StoneConfig* config) {
  for (const Key& k : kKeys) {
    if (k.name == key) return k.apply(value, config);
  }
  std::string known;
  for (const Key& k : kKeys) known += fmt::format("{}{}", known.empty() ? "" : ", ", k.name);
  return fmt::format("unknown key '{}'; known keys are {}", key, known);
}

}  // namespace

Result<StoneConfig> ParseConfig(std::string_view text, std::string_view source) {
  StoneConfig config;
  std::map<std::string, int, std::less<>> seen;  // key -> line first defined
  int line_no = 0;
  while (!text.empty()) {
    line_no++;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);

    auto fail = [&](std::string_view what) {
      return Status::InvalidArgument(fmt::format("{}:{}: {}", source, line_no, what));
    };
    size_t hash = line.find('#');
    line = Trim(line.substr(0, hash));
    if (line.empty()) continue;
    if (line.back() != ';') return fail("missing ';' at the end of the line (expected KEY = value;)");
    line.remove_suffix(1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return fail("missing '=' (expected KEY = value;)");
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (key.empty()) return fail("missing key before '='");
    for (char c : key) {
      if (!IsKeyChar(c)) return fail(fmt::format("'{}' is not a key (expected KEY = value;)", key));
    }
    if (value.find(';') != std::string_view::npos) return fail("more than one ';' on the line");
    auto [it, inserted] = seen.emplace(std::string(key), line_no);
    if (!inserted) return fail(fmt::format("{} is set twice (first on line {})", key, it->second));
    std::string error = Apply(key, value, &config);
    if (!error.empty()) return fail(error);
  }
  return config;
}

std::string FormatConfig(const StoneConfig& c) {
  std::string dirs = c.tranlog_dirs.empty() ? "tranlog" : "";
  for (const std::string& d : c.tranlog_dirs) dirs += (dirs.empty() ? "" : ", ") + d;
  return fmt::format(
      "# tranship stone configuration. Syntax: KEY = value;  ('#' starts a comment)\n"
      "# Directories that hold the tranlogs, used in turn (comma-separated).\n"
      "STN_TRAN_LOG_DIRECTORIES = {};\n"
      "# Size in MB at which a tranlog file is closed and the next one started.\n"
      "STN_TRAN_LOG_SIZES = {};\n"
      "# Tranlog file names are PREFIX<N>.dbf.\n"
      "STN_TRAN_LOG_PREFIX = {};\n"
      "# Seconds between automatic checkpoints (0: only explicit and clean-stop ones).\n"
      "STN_CHECKPOINT_INTERVAL = {};\n"
      "# MB per second at most for checkpoints and full backups while commits go on, so\n"
      "# that the commits' fdatasyncs do not wait behind them (0: no limit).\n"
      "STN_STATE_WRITE_RATE = {};\n",
      dirs, c.tranlog_size_mb, c.tranlog_prefix, c.checkpoint_interval_s,
      c.state_write_rate_mb);
}

Result<StoneConfig> LoadConfig(Env* env, const std::string& path) {
  Result<std::string> text = ReadFileToString(env, path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

}  // namespace tranship::home
