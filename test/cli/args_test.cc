// Argument splitting and pid files: the small pieces every command relies on.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>

#include "cli/args.h"
#include "daemon/run_files.h"
#include "test/test_util.h"

namespace tranship::cli {

using daemon::ProcessDescription;
using daemon::FormatPidFile;
using daemon::ParsePidFile;
using daemon::IsStoneProcess;

const ArgSpec kSpec{"tranship x NAME [-R] [--n N]", 1, 2, {"-R", "--json"}, {"--n"}};

TEST_CASE("FlagsValuesAndPositionals") {
  Result<Args> a = ParseArgs(kSpec, {"prod", "-R", "--n", "4", "two"});
  REQUIRE(a.ok());
  CHECK(a->positional == std::vector<std::string>{"prod", "two"});
  CHECK(a->Has("-R"));
  CHECK_FALSE(a->Has("--json"));
  CHECK(a->Value("--n") == "4");
  Result<uint64_t> n = a->Number("--n", 0);
  REQUIRE(n.ok());
  CHECK(*n == 4);
  Result<Args> b = ParseArgs(kSpec, {"--n=7", "prod"});
  REQUIRE(b.ok());
  CHECK(b->Value("--n") == "7");
}

TEST_CASE("DoubleDashEndsFlags") {
  Result<Args> a = ParseArgs(kSpec, {"--", "-R"});
  REQUIRE(a.ok());
  CHECK(a->positional == std::vector<std::string>{"-R"});
}

TEST_CASE("RawAfterPassesFlagsThrough") {
  ArgSpec spec{"tranship admin NAME VERB [ARGS...]", 2, 64, {}, {}, 2};
  Result<Args> a = ParseArgs(spec, {"prod", "restore", "--to-end-of-log", "5"});
  REQUIRE(a.ok());
  CHECK(a->positional.size() == 4);
}

TEST_CASE("UsageErrorsEndWithTheUsage") {
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{}, {"a", "b", "c"}, {"a", "-x"}, {"a", "--n"}}) {
    Result<Args> a = ParseArgs(kSpec, argv);
    REQUIRE_FALSE(a.ok());
    CHECK(a.status().message().ends_with("Usage: tranship x NAME [-R] [--n N]"));
  }
  Result<Args> bad = ParseArgs(kSpec, {"a", "--n", "four"});
  REQUIRE(bad.ok());
  CHECK_FALSE(bad->Number("--n", 0).ok());
}

TEST_CASE("PidFileRoundTrips") {
  ProcessDescription d;
  d.pid = 4242;
  d.type = "stone";
  d.name = "prod";
  d.version = "0.1.0";
  d.owner = "gemstone";
  d.started_us = 1763700000123456;
  d.port = "/h/run/prod.sock";
  d.mode = "restore";
  std::string text = FormatPidFile(d);
  CHECK(text.starts_with("4242\n"));
  Result<ProcessDescription> e = ParsePidFile(text + "future_key=1\n");
  REQUIRE(e.ok());
  CHECK(e->pid == 4242);
  CHECK(e->type == "stone");
  CHECK(e->name == "prod");
  CHECK(e->version == "0.1.0");
  CHECK(e->owner == "gemstone");
  CHECK(e->started_us == 1763700000123456);
  CHECK(e->port == "/h/run/prod.sock");
  CHECK(e->mode == "restore");
  CHECK_FALSE(ParsePidFile("").ok());
  CHECK_FALSE(ParsePidFile("abc\ntype=stone\n").ok());
}

TEST_CASE("StatusFileIsReplacedWholeAndOwnerOnly") {
  test::TempDir dir;
  const std::string path = dir / "logsender-5000.status";
  mode_t old = ::umask(0);  // the file is 0600 whatever the umask
  daemon::WriteStatusFile(path, "{\"a\":1}\n");
  daemon::WriteStatusFile(path, "{\"b\":2}\n");
  ::umask(old);
  CHECK(test::ReadAll(path) == "{\"b\":2}\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  // A directory that cannot take it: logged, nothing left behind, the caller goes on.
  const std::string gone = dir / "no-such-dir/x.status";
  daemon::WriteStatusFile(gone, "{}\n");
  CHECK_FALSE(std::filesystem::exists(gone));
  CHECK_FALSE(std::filesystem::exists(gone + ".tmp"));
}

TEST_CASE("ProcessAliveSeesThisProcessAndNotANonexistentOne") {
  CHECK(ProcessAlive(getpid()));
  CHECK_FALSE(ProcessAlive(0));
  CHECK_FALSE(ProcessAlive(999999999));
  CHECK_FALSE(IsStoneProcess(getpid(), "prod"));
}

}  // namespace tranship::cli
