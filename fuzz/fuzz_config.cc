// Fuzz target: the stone configuration file parser (home/config.h ParseConfig), which
// reads etc/conf.d/NAME.conf as an operator wrote it.
//
// Input: the text of the file.
// Properties: an error names the source and a line ("conf:LINE: ..."), on one line;
// a configuration that parses formats (FormatConfig, what `stone create` writes) to a
// text that parses back to the same configuration.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "home/config.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tranship::home;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  tranship::Result<StoneConfig> c = ParseConfig(text, "conf");
  if (!c.ok()) {
    const std::string& m = c.status().message();
    FUZZ_CHECK(m.rfind("conf:", 0) == 0);
    FUZZ_CHECK(m.find('\n') == std::string::npos);
    return 0;
  }
  std::string formatted = FormatConfig(*c);
  tranship::Result<StoneConfig> again = ParseConfig(formatted, "formatted");
  FUZZ_CHECK(again.ok());
  // No directories means the default, which FormatConfig spells "tranlog" (relative to
  // the stone's data directory).
  std::vector<std::string> dirs = c->tranlog_dirs;
  if (dirs.empty()) dirs = {"tranlog"};
  FUZZ_CHECK(again->tranlog_dirs == dirs);
  FUZZ_CHECK(again->tranlog_size_mb == c->tranlog_size_mb);
  FUZZ_CHECK(again->tranlog_prefix == c->tranlog_prefix);
  FUZZ_CHECK(again->checkpoint_interval_s == c->checkpoint_interval_s);
  return 0;
}
