// What other local users can see. Every file and directory tranship creates in a
// TRANSHIP_HOME — configuration, extent, tranlogs, logs, pid/status/lock files, the
// stone's socket, snapshots, the receiver's archive — and a backup file, are owner-only
// even when the daemons run under umask 000. A literal -Q passphrase reaches neither a
// log, nor a command line in /proc, nor status output, nor the daemon's environment.

#include <sys/stat.h>

#include <fmt/format.h>

#include "test/security/hostile_peer.h"

namespace tranship::test {
namespace {

// `root` and the paths under it whose mode gives anything to group or others, one per
// line with the mode.
std::string OpenToOthers(const std::string& root) {
  std::string bad;
  auto check = [&](const std::string& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) return;
    if ((st.st_mode & 077) != 0) bad += fmt::format("{:o} {}\n", st.st_mode & 07777, p);
  };
  check(root);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    check(it->path());
  }
  return bad;
}

std::string Passphrase(const std::string& certs) {
  std::string pass = ReadAll(certs + "/passphrase.txt");
  while (!pass.empty() && (pass.back() == '\n' || pass.back() == '\r')) pass.pop_back();
  REQUIRE_FALSE(pass.empty());
  return pass;
}

// Restores the test's umask when it goes.
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

}  // namespace

TEST_CASE("EverythingInAHomeIsOwnerOnlyUnderUmask000AndThePassphraseStaysSecret") {
  Cluster c(0);
  std::string certs = c.Certs();
  const std::string pass = Passphrase(certs);
  Umask wide_open(0);
  // Two homes that tranship itself creates (Host makes its root; it goes again, and the
  // first command's output with it).
  Host ph(std::getenv("TRANSHIP_EXE"), c.Temp("primary-home"));
  Host sh(std::getenv("TRANSHIP_EXE"), c.Temp("standby-home"));
  std::filesystem::remove(ph.root());
  std::filesystem::remove(sh.root());

  Ok(ph, {"stone", "create", "prod"});
  Ok(ph, {"stone", "start", "prod"});
  Ok(ph, {"put", "prod", "k", "v"});
  Ok(ph, {"admin", "prod", "full-backup", c.Temp("prod.backup")});
  Ok(ph, {"admin", "prod", "checkpoint"});
  Ok(ph, {"admin", "prod", "start-new-log"});
  // Both daemons as daemons (not --foreground), the key passphrase given literally.
  const std::string port = std::to_string(c.port());
  Proc start_sender = ph.Run({"-P", port, "-A", "127.0.0.1", "-T", ph.Path("data/prod/tranlog"),
                              "-s", "prod", "-S", "-J", certs + "/ca.pem", "-C",
                              certs + "/server.pem", "-K", certs + "/server-encrypted.key", "-Q",
                              pass},
                             "startlogsender");
  REQUIRE_MESSAGE(start_sender.code == 0, start_sender.out);
  Proc start_receiver = sh.Run({"-P", port, "-A", "127.0.0.1", "-T", sh.Path("archive"), "-s",
                                "standby", "--from-start", "-S", "-J", certs + "/ca.pem", "-C",
                                certs + "/client.pem", "-K", certs + "/client-encrypted.key",
                                "-Q", pass},
                               "startlogreceiver");
  REQUIRE_MESSAGE(start_receiver.code == 0, start_receiver.out);
  Ok(ph, {"put", "prod", "k2", "v2"});
  auto receiver_log = [&] { return ReceiverLogAt(sh, c.port(), "standby"); };
  REQUIRE_MESSAGE(EventuallyHas(receiver_log, "streaming"), receiver_log());

  // Status output, the daemons' command lines and environments, while they run.
  for (Host* h : {&ph, &sh}) {
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"status"}, std::vector<std::string>{"status", "--json"}}) {
      Proc st = Ok(*h, cmd);
      CHECK(st.out.find(pass) == std::string::npos);
    }
  }
  pid_t sender = ph.PidOf("logsender-" + port + ".pid");
  pid_t receiver = sh.PidOf("logreceiver-" + port + "-standby.pid");
  REQUIRE(sender > 0);
  REQUIRE(receiver > 0);
  for (pid_t pid : {sender, receiver}) {
    CAPTURE(pid);
    std::string proc = "/proc/" + std::to_string(pid);
    std::string cmdline = ReadAll(proc + "/cmdline");
    CHECK(cmdline.find("serve") != std::string::npos);
    CHECK(cmdline.find(pass) == std::string::npos);
    CHECK(ReadAll(proc + "/environ").find(pass) == std::string::npos);
  }

  // Snapshot and the standby's files, then the modes of everything, daemons running.
  Ok(ph, {"stone", "stop", "prod"});
  Ok(ph, {"stone", "snapshot", "prod"});
  Ok(ph, {"stone", "start", "prod"});
  std::string bad = OpenToOthers(ph.root()) + OpenToOthers(sh.root());
  struct stat st;
  REQUIRE(::stat(c.Temp("prod.backup").c_str(), &st) == 0);
  if ((st.st_mode & 077) != 0) bad += fmt::format("{:o} the backup file\n", st.st_mode & 07777);
  REQUIRE(::lstat(ph.Path("run/prod.sock").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_MESSAGE(bad.empty(), "open to group or others:\n" << bad);

  // Stopped: the logs hold no passphrase, nor does anything else in either home.
  Proc stop_sender = ph.Run({"-P", port}, "stoplogsender");
  CHECK_MESSAGE(stop_sender.code == 0, stop_sender.out);
  Proc stop_receiver = sh.Run({"-P", port, "-s", "standby"}, "stoplogreceiver");
  CHECK_MESSAGE(stop_receiver.code == 0, stop_receiver.out);
  Ok(ph, {"stone", "stop", "prod"});
  for (Host* h : {&ph, &sh}) {
    std::error_code ec;
    for (auto& e : std::filesystem::recursive_directory_iterator(h->root(), ec)) {
      if (!e.is_regular_file()) continue;
      CAPTURE(e.path().string());
      CHECK(ReadAll(e.path()).find(pass) == std::string::npos);
    }
  }
  CHECK(bad.empty());
}

}  // namespace tranship::test
