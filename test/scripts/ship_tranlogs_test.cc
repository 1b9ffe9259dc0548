// scripts/warm-standby/ship-tranlogs against a real primary with 1 MB tranlogs in two
// directories: only completed files are shipped (never the newest, never before their
// successor is -w seconds old), under the archive prefix, byte-identical, without temp
// files left behind; a second run copies nothing; a different file under an archived
// name stops the run and is not overwritten. Also to HOST:DIR through ssh.

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>

#include <doctest/doctest.h>

#include "tranlog/format.h"
#include "test/scripts/script_harness.h"

namespace tranship::test {
namespace {

// File id -> path of the files named PREFIX<N>.dbf in `dirs`; other names are reported
// under id 0 (temp files must not be left in an archive).
std::map<uint64_t, std::string> Tranlogs(const std::vector<std::string>& dirs,
                                         const std::string& prefix) {
  std::map<uint64_t, std::string> m;
  for (const std::string& d : dirs) {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(d, ec)) {
      uint64_t id = 0;
      if (!tranlog::ParseFileName(e.path().filename().string(), prefix, &id)) id = 0;
      m[id] = e.path();
    }
  }
  return m;
}

ino_t Inode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

TEST_CASE("ship-tranlogs ships completed tranlogs only, under the archive prefix, once") {
  Cluster c(0);
  Host& p = c.primary();
  REQUIRE(p.Run({"stone", "create", "prod"}).code == 0);
  std::string conf = p.Path("etc/conf.d/prod.conf");
  {
    std::string t = ReadAll(conf);
    size_t a = t.find("STN_TRAN_LOG_DIRECTORIES = ");
    t.replace(a, t.find(';', a) - a, "STN_TRAN_LOG_DIRECTORIES = tranlog, tranlog-b");
    size_t b = t.find("STN_TRAN_LOG_SIZES = 100");
    t.replace(b, 24, "STN_TRAN_LOG_SIZES = 1");
    WriteAll(conf, t);
  }
  REQUIRE(p.Run({"stone", "start", "prod"}).code == 0);
  Proc load = Load(p, "prod", BigLoad(320, 10000));
  REQUIRE_MESSAGE(load.code == 0, load.out);
  const std::vector<std::string> src_dirs = {p.Path("data/prod/tranlog"), p.Path("data/prod/tranlog-b")};
  std::map<uint64_t, std::string> src = Tranlogs(src_dirs, "tranlog");
  REQUIRE(src.count(0) == 0);
  REQUIRE(src.size() >= 4);
  uint64_t newest = src.rbegin()->first;
  const std::string archive = c.Temp("archive");
  const std::vector<std::string> ship = {"-s", "prod", "-a", archive, "-p", "prodtranlog"};
  auto Ship = [&](const std::string& wait) {
    std::vector<std::string> args = ship;
    args.insert(args.end(), {"-w", wait});
    return RunScript(p, "warm-standby/ship-tranlogs", args);
  };
  const std::string log_path = p.Path("log/ship-tranlogs.log");

  // Every successor is younger than an hour: nothing is complete enough yet.
  Proc early = Ship("3600");
  REQUIRE_MESSAGE(early.code == 0, early.out);
  CHECK(Tranlogs({archive}, "prodtranlog").empty());

  Proc r = Ship("0");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  std::map<uint64_t, std::string> shipped = Tranlogs({archive}, "prodtranlog");
  CHECK(shipped.count(0) == 0);
  CHECK(shipped.size() == src.size() - 1);
  CHECK(shipped.count(newest) == 0);
  for (auto& [id, path] : src) {
    if (id == newest) continue;
    REQUIRE_MESSAGE(shipped.count(id) == 1, id);
    CHECK_MESSAGE(ReadAll(shipped[id]) == ReadAll(path), id);
  }
  std::string log = ReadAll(log_path);
  CHECK(Contains(log, "shipped tranlog1.dbf as " + archive + "/prodtranlog1.dbf"));
  CHECK(Contains(log, "shipped tranlog2.dbf as " + archive + "/prodtranlog2.dbf"));
  CHECK(Contains(log, "closed with a log switch to file 2"));
  CHECK(Contains(log, "done: " + std::to_string(src.size() - 1) + " shipped, 0 already there; newest tranlog" +
                          std::to_string(newest) + ".dbf not shipped"));

  // Idempotent: the files already there are recognised, none is copied again.
  ino_t first_inode = Inode(shipped[1]);
  Proc again = Ship("0");
  REQUIRE_MESSAGE(again.code == 0, again.out);
  CHECK(Inode(shipped[1]) == first_inode);
  CHECK(Contains(ReadAll(log_path), "done: 0 shipped, " + std::to_string(src.size() - 1) +
                                        " already there"));

  // More commits close the newest file: the next run ships it and the ones after.
  REQUIRE(Load(p, "prod", BigLoad(150, 10000, "m")).code == 0);
  std::map<uint64_t, std::string> src2 = Tranlogs(src_dirs, "tranlog");
  REQUIRE(src2.rbegin()->first > newest);
  Proc more = Ship("0");
  REQUIRE_MESSAGE(more.code == 0, more.out);
  std::map<uint64_t, std::string> shipped2 = Tranlogs({archive}, "prodtranlog");
  CHECK(shipped2.size() == src2.size() - 1);
  REQUIRE(shipped2.count(newest) == 1);
  CHECK(ReadAll(shipped2[newest]) == ReadAll(src2[newest]));
  CHECK(Contains(ReadAll(log_path), "shipped tranlog" + std::to_string(newest) + ".dbf"));

  // The archive's copy of tranlog 1 damaged: the run stops, overwrites nothing.
  IncrementByte(shipped[1], 200);
  std::string damaged = ReadAll(shipped[1]);
  Proc diff = Ship("0");
  CHECK(diff.code == 1);
  CHECK(diff.out == "ship-tranlogs: " + archive + "/prodtranlog1.dbf exists and differs from " +
                        src[1] + ". To fix this find out where it came from and move it away; "
                        "nothing was overwritten.\n");
  CHECK(ReadAll(shipped[1]) == damaged);

  // A stone that does not exist: one line, exit 1.
  Proc none = RunScript(p, "warm-standby/ship-tranlogs", {"-s", "nosuch", "-a", archive, "-p", "x"});
  CHECK(none.code == 1);
  CHECK(none.out.find('\n') + 1 == none.out.size());
}

// HOST:DIR archives go through ssh; a stand-in ssh that runs the remote command here
// with sh (after logging the host) checks the quoting of every remote command, with a
// blank in the directory's name.
TEST_CASE("ship-tranlogs to HOST:DIR through ssh") {
  Cluster c(0);
  Host& p = c.primary();
  StartSmallLogStone(p, "prod");
  REQUIRE(Load(p, "prod", BigLoad(250, 10000)).code == 0);
  std::string bin = c.Temp("fake-ssh");
  std::filesystem::create_directories(bin);
  WriteAll(bin + "/ssh", "#!/bin/sh\n"
                         "while [ \"$1\" = -o ]; do shift 2; done\n"
                         "echo \"$1\" >>'" + c.Temp("ssh-hosts") + "'\n"
                         "shift\n"
                         "exec sh -c \"$*\"\n");
  std::filesystem::permissions(bin + "/ssh", std::filesystem::perms::owner_all);
  std::string old_path = std::getenv("PATH");
  setenv("PATH", (bin + ":" + old_path).c_str(), 1);
  const std::string archive = c.Temp("warm dir");
  Proc r = RunScript(p, "warm-standby/ship-tranlogs",
                     {"-s", "prod", "-a", "gs@standby:" + archive, "-p", "prodtranlog", "-w", "0"});
  Proc again = RunScript(p, "warm-standby/ship-tranlogs",
                         {"-s", "prod", "-a", "gs@standby:" + archive, "-p", "prodtranlog", "-w", "0"});
  setenv("PATH", old_path.c_str(), 1);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  REQUIRE_MESSAGE(again.code == 0, again.out);
  std::map<uint64_t, std::string> src = Tranlogs({p.Path("data/prod/tranlog")}, "tranlog");
  std::map<uint64_t, std::string> shipped = Tranlogs({archive}, "prodtranlog");
  REQUIRE(src.size() >= 3);
  CHECK(shipped.count(0) == 0);
  CHECK(shipped.size() == src.size() - 1);
  for (auto& [id, path] : shipped) CHECK_MESSAGE(ReadAll(path) == ReadAll(src[id]), id);
  std::string hosts = ReadAll(c.Temp("ssh-hosts"));
  CHECK(Contains(hosts, "gs@standby\n"));
  CHECK(hosts.find_first_not_of("gs@standby\n") == std::string::npos);
  CHECK(Contains(ReadAll(p.Path("log/ship-tranlogs.log")),
                 "done: 0 shipped, " + std::to_string(src.size() - 1) + " already there"));
}

}  // namespace
}  // namespace tranship::test
