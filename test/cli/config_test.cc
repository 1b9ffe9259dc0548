// The stone configuration parser: good files, defaults, and a bad line named by
// file and line number.

#include <algorithm>

#include <doctest/doctest.h>

#include "home/config.h"

namespace tranship::home {

TEST_CASE("EmptyConfigGivesDefaults") {
  Result<StoneConfig> c = ParseConfig("");
  REQUIRE(c.ok());
  CHECK(c->tranlog_dirs.empty());
  CHECK(c->tranlog_size_mb == 100);
  CHECK(c->tranlog_prefix == "tranlog");
  CHECK(c->checkpoint_interval_s == 300);
  CHECK(c->state_write_rate_mb == 16);
}

TEST_CASE("AllKeysWithCommentsAndBlanks") {
  Result<StoneConfig> c = ParseConfig(
      "# a comment\n"
      "\n"
      "STN_TRAN_LOG_DIRECTORIES = /a/tranlog ,  /b/tranlog;\n"
      "  STN_TRAN_LOG_SIZES=16;   # MB\n"
      "STN_TRAN_LOG_PREFIX = tl;\r\n"
      "\tSTN_CHECKPOINT_INTERVAL = 0 ;\n");
  REQUIRE(c.ok());
  CHECK(c->tranlog_dirs == std::vector<std::string>{"/a/tranlog", "/b/tranlog"});
  CHECK(c->tranlog_size_mb == 16);
  CHECK(c->tranlog_prefix == "tl");
  CHECK(c->checkpoint_interval_s == 0);
}

TEST_CASE("GemStoneStyleSizeListWithEqualSizes") {
  Result<StoneConfig> c = ParseConfig("STN_TRAN_LOG_SIZES = 50, 50;\n");
  REQUIRE(c.ok());
  CHECK(c->tranlog_size_mb == 50);
}

TEST_CASE("FormatConfigRoundTrips") {
  StoneConfig in;
  in.tranlog_dirs = {"/x/t1", "/y/t2"};
  in.tranlog_size_mb = 7;
  in.tranlog_prefix = "log";
  in.checkpoint_interval_s = 60;
  in.state_write_rate_mb = 0;
  Result<StoneConfig> out = ParseConfig(FormatConfig(in));
  REQUIRE(out.ok());
  CHECK(out->tranlog_dirs == in.tranlog_dirs);
  CHECK(out->tranlog_size_mb == 7);
  CHECK(out->tranlog_prefix == "log");
  CHECK(out->checkpoint_interval_s == 60);
  CHECK(out->state_write_rate_mb == 0);
  // Without directories the default relative one is written, which parses back.
  Result<StoneConfig> defaults = ParseConfig(FormatConfig(StoneConfig()));
  REQUIRE(defaults.ok());
  CHECK(defaults->tranlog_dirs == std::vector<std::string>{"tranlog"});
}

// Each bad line is reported as SOURCE:LINE: with a reason containing `why`.
void CheckBad(const std::string& text, int line, const std::string& why) {
  CAPTURE(text);
  Result<StoneConfig> c = ParseConfig(text, "etc/conf.d/prod.conf");
  REQUIRE_FALSE(c.ok());
  std::string msg = c.status().message();
  CAPTURE(msg);
  CHECK(msg.starts_with("etc/conf.d/prod.conf:" + std::to_string(line) + ": "));
  CHECK(msg.find(why) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

TEST_CASE("BadLinesNameFileAndLine") {
  CheckBad("STN_TRAN_LOG_SIZES = 100\n", 1, "missing ';'");
  CheckBad("# ok\n\nSTN_TRAN_LOG_SIZES 100;\n", 3, "missing '='");
  CheckBad("= 100;\n", 1, "missing key");
  CheckBad("STN_TRAN_LOG_SIZES = 100;\nSTN_TRAN_LOG_SIZS = 5;\n", 2, "unknown key 'STN_TRAN_LOG_SIZS'");
  CheckBad("STN_TRAN_LOG_SIZES = ten;\n", 1, "size in MB");
  CheckBad("STN_TRAN_LOG_SIZES = 0;\n", 1, "size in MB");
  CheckBad("STN_TRAN_LOG_SIZES = 10, 20;\n", 1, "one size");
  CheckBad("STN_CHECKPOINT_INTERVAL = -1;\n", 1, "seconds");
  CheckBad("STN_STATE_WRITE_RATE = fast;\n", 1, "MB per second");
  CheckBad("STN_STATE_WRITE_RATE = 99999999;\n", 1, "MB per second");
  CheckBad("STN_CHECKPOINT_INTERVAL = 99999999999999999999999;\n", 1, "seconds");
  CheckBad("STN_TRAN_LOG_PREFIX = a/b;\n", 1, "prefix");
  CheckBad("STN_TRAN_LOG_DIRECTORIES = /a,,/b;\n", 1, "empty directory");
  CheckBad("STN_TRAN_LOG_PREFIX = a;\nSTN_TRAN_LOG_PREFIX = b;\n", 2, "first on line 1");
  CheckBad("stn lower = 1;\n", 1, "is not a key");
  CheckBad("STN_TRAN_LOG_PREFIX = a; b;\n", 1, "more than one ';'");
}

TEST_CASE("UnknownKeyNamesEveryKeyStoneCreateWrites") {
  // The unknown-key message lists the key table; `stone create` writes FormatConfig. The
  // two name the same keys, so a key added to one and not the other fails here.
  Result<StoneConfig> c = ParseConfig("STN_NO_SUCH_KEY = 1;\n");
  REQUIRE_FALSE(c.ok());
  const std::string msg = c.status().message();
  const std::string listed = msg.substr(msg.find("known keys are ") + 15);
  std::vector<std::string> written;
  std::string text = FormatConfig(StoneConfig());
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.empty() && line[0] != '#') written.push_back(line.substr(0, line.find(" = ")));
  }
  CHECK(written.size() == 5);
  size_t commas = static_cast<size_t>(std::count(listed.begin(), listed.end(), ','));
  CHECK(commas + 1 == written.size());
  for (const std::string& key : written) {
    CAPTURE(key);
    CHECK(listed.find(key) != std::string::npos);
  }
}

}  // namespace tranship::home
