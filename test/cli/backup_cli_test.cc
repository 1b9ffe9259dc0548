// Backups through the tranship command, with real stone processes: a full backup of a
// stone under load seeds a standby (stone create --from-backup) that comes up in
// restore mode at the backup's TID and catches up by replaying the primary's tranlogs;
// restore-from-backup on a running stone and its refusals; one-line errors for missing
// and damaged files; the progress line on a terminal.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <doctest/doctest.h>

#include "test/cli/cli_harness.h"
#include "test/regex.h"

namespace tranship::test {
namespace {

RunResult MustRun(CliHarness& h, const std::vector<std::string>& args, const std::string& in = "") {
  RunResult r = h.Run(args, in);
  INFO("tranship " << args[0] << " " << (args.size() > 1 ? args[1] : "") << "\nstdout: " << r.out
                   << "stderr: " << r.err);
  REQUIRE(r.code == 0);
  return r;
}

// Expects a failure reported as one line on stderr containing `what`.
void Refused(CliHarness& h, const std::vector<std::string>& args, const std::string& what) {
  RunResult r = h.Run(args);
  INFO("stdout: " << r.out << "stderr: " << r.err);
  CHECK(r.code != 0);
  CHECK(OneLine(r.err));
  CHECK(r.err.find(what) != std::string::npos);
}

struct DigestLine {
  uint64_t tid = 0;
  std::string sha;
};

DigestLine Digest(CliHarness& h, const std::string& name) {
  RunResult r = MustRun(h, {"admin", name, "digest"});
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex(R"(tid (\d+) keys \d+ sha256 ([0-9a-f]+))")));
  return DigestLine{std::stoull(m[1]), m[2]};
}

// The TID in "... at TID N ..." of a command's output.
uint64_t TidIn(const std::string& out) {
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex(R"(at TID (\d+))")));
  return std::stoull(m[1]);
}

std::string LoadLines(int keys, const std::string& prefix, size_t value_size = 20) {
  std::string in;
  std::string value(value_size, 'v');
  for (int i = 0; i < keys; i++) {
    in += "put " + prefix + std::to_string(i) + " " + value + std::to_string(i) + "\n";
    if (i % 1000 == 999) in += "commit\n";
  }
  return in + "commit\n";
}

void Create(CliHarness& h, const std::string& name) {
  MustRun(h, {"stone", "create", name});
  MustRun(h, {"stone", "start", name});
}

}  // namespace

TEST_CASE("FullBackupUnderLoadSeedsAStandbyThatCatchesUp") {
  CliHarness h;
  Create(h, "prod");
  std::string backup = h.TempPath("prod.bak");
  pid_t load = h.Spawn({"workload", "prod", "--writers", "4", "--seconds", "4"},
                       h.TempPath("workload.log"));
  REQUIRE(WaitFor([&] { return Digest(h, "prod").tid > 300; }, std::chrono::seconds(30)));
  RunResult b = MustRun(h, {"admin", "prod", "full-backup", backup});
  CHECK(OneLine(b.out));
  CHECK(b.out.find("full-backup of 'prod'") != std::string::npos);
  uint64_t tid = TidIn(b.out);
  CHECK(b.err.empty());  // not a terminal: no progress line
  CHECK(CliHarness::Wait(load) == 0);
  DigestLine after_load = Digest(h, "prod");
  CHECK(after_load.tid > tid);  // the stone kept committing

  RunResult c = MustRun(h, {"stone", "create", "standby", "--from-backup", backup});
  CHECK(c.out.find("in restore mode at TID " + std::to_string(tid)) != std::string::npos);
  MustRun(h, {"stone", "start", "standby"});
  DigestLine seeded = Digest(h, "standby");
  CHECK(seeded.tid == tid);
  RunResult st = MustRun(h, {"admin", "standby", "restore-status"});
  CHECK(st.out.find("restore mode") != std::string::npos);
  Refused(h, {"put", "standby", "k", "v"}, "restore mode");

  // Replaying the primary's tranlogs from the backup's position gives the primary's
  // state: the backup was exactly the state at its position.
  MustRun(h, {"stone", "stop", "prod"});
  MustRun(h, {"admin", "standby", "restore-from-archive-logs", h.Path("data/prod/tranlog")});
  MustRun(h, {"stone", "start", "prod"});
  DigestLine primary = Digest(h, "prod");
  DigestLine standby = Digest(h, "standby");
  CHECK(standby.tid == primary.tid);
  CHECK(standby.sha == primary.sha);
  CHECK(primary.sha == after_load.sha);
}

TEST_CASE("RestoreFromBackupOnARunningStone") {
  CliHarness h;
  Create(h, "prod");
  Create(h, "other");
  MustRun(h, {"load", "prod"}, LoadLines(3000, "p"));
  MustRun(h, {"load", "other"}, LoadLines(500, "o"));
  DigestLine at_backup = Digest(h, "prod");
  std::string backup = h.TempPath("prod.bak");
  RunResult b = MustRun(h, {"admin", "prod", "full-backup", backup});
  CHECK(TidIn(b.out) == at_backup.tid);
  MustRun(h, {"put", "prod", "after", "backup"});

  RunResult r = MustRun(h, {"admin", "other", "restore-from-backup", backup});
  CHECK(r.out.find("restore mode at TID " + std::to_string(at_backup.tid)) != std::string::npos);
  DigestLine d = Digest(h, "other");
  CHECK(d.tid == at_backup.tid);
  CHECK(d.sha == at_backup.sha);
  Refused(h, {"put", "other", "k", "v"}, "restore mode");
  RunResult st = MustRun(h, {"admin", "other", "backup-status"});
  CHECK(st.out.find("restore-from-backup " + backup + " finished") != std::string::npos);

  // Restore mode and the restored state survive a restart.
  MustRun(h, {"stone", "restart", "other"});
  d = Digest(h, "other");
  CHECK(d.tid == at_backup.tid);
  CHECK(d.sha == at_backup.sha);
  Refused(h, {"put", "other", "k", "v"}, "restore mode");

  // Refused while continuous restore runs.
  std::string archive = h.TempPath("archive");
  std::filesystem::create_directories(archive);
  MustRun(h, {"admin", "other", "continuous-restore", archive});
  Refused(h, {"admin", "other", "restore-from-backup", backup}, "stop-continuous-restore");
  MustRun(h, {"admin", "other", "stop-continuous-restore"});

  // Refused while a logreceiver is logged in (it logs in to its standby stone even
  // before a sender answers).
  std::string port = std::to_string(20000 + getpid() % 20000);
  MustRun(h, {"logreceiver", "start", "-P", port, "-A", "127.0.0.1", "-T", archive, "-s",
              "other"});
  bool refused = WaitFor([&] {
    RunResult x = h.Run({"admin", "other", "restore-from-backup", backup});
    return x.code != 0 && x.err.find("logreceiver") != std::string::npos && OneLine(x.err);
  }, std::chrono::seconds(20));
  MustRun(h, {"logreceiver", "stop", "-P", port});
  CHECK(refused);
  MustRun(h, {"admin", "other", "restore-from-backup", backup});
}

TEST_CASE("BackupErrorsAreOneLineNamingTheFile") {
  CliHarness h;
  Create(h, "prod");
  MustRun(h, {"load", "prod"}, LoadLines(2000, "k"));
  std::string backup = h.TempPath("prod.bak");
  MustRun(h, {"admin", "prod", "full-backup", backup});

  std::string missing = h.TempPath("missing.bak");
  Refused(h, {"admin", "prod", "restore-from-backup", missing}, missing);
  Refused(h, {"stone", "create", "sb", "--from-backup", missing}, missing);

  std::string damaged = h.TempPath("damaged.bak");
  std::filesystem::copy_file(backup, damaged);
  IncrementByte(damaged, FileSize(damaged) / 2);
  Refused(h, {"admin", "prod", "restore-from-backup", damaged}, damaged);
  Refused(h, {"stone", "create", "sb", "--from-backup", damaged}, "damaged");
  std::string cut = h.TempPath("cut.bak");
  std::filesystem::copy_file(backup, cut);
  ShrinkSize(cut, 10);
  Refused(h, {"stone", "create", "sb", "--from-backup", cut}, cut);
  // Nothing of the refused stone is left behind; the running one is untouched.
  CHECK(MustRun(h, {"stone", "list"}).out.find("sb") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(h.Path("data/sb")));
  MustRun(h, {"put", "prod", "still", "running"});

  Refused(h, {"admin", "prod", "full-backup", backup}, "already exists");
  std::string nodir = h.TempPath("no/such/dir/b.bak");
  Refused(h, {"admin", "prod", "full-backup", nodir}, nodir);
  CHECK_FALSE(std::filesystem::exists(nodir + ".partial"));
  Refused(h, {"admin", "prod", "full-backup"}, "FILE");
  MustRun(h, {"stone", "stop", "prod"});
  Refused(h, {"admin", "prod", "full-backup", h.TempPath("x.bak")}, "startstone prod");
}

TEST_CASE("ProgressLineOnATerminal") {
  if (std::system("command -v script >/dev/null 2>&1") != 0) {
    MESSAGE("script(1) is not installed: the terminal progress line is not tested");
    return;
  }
  CliHarness h;
  Create(h, "prod");
  // About 90 MB of state: the backup takes long enough for several polls.
  MustRun(h, {"load", "prod"}, LoadLines(300000, "key", 300));
  std::string backup = h.TempPath("prod.bak");
  std::string exe = std::getenv("TRANSHIP_EXE");
  std::string out = h.TempPath("tty.out");
  std::string cmd = "script -qec '" + exe + " admin prod full-backup " + backup + "' /dev/null > " +
                    out + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string tty = ReadAll(out);
  INFO("terminal: " << tty);
  // At least one progress line ("starting" while the state is copied, then keys and MB:
  // how many of each depends on the machine's speed; BackupTracker's test checks them).
  CHECK(tty.find("\rfull-backup " + backup + ": ") != std::string::npos);
  CHECK(tty.find("full-backup of 'prod' at TID") != std::string::npos);

  // stone create --from-backup reads the file here and shows its own line.
  cmd = "script -qec '" + exe + " stone create sb --from-backup " + backup + "' /dev/null > " +
        out + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  tty = ReadAll(out);
  CHECK(tty.find("\rreading " + backup + ": ") != std::string::npos);
  CHECK(tty.find("Created the stone 'sb'") != std::string::npos);
}

}  // namespace tranship::test
