#pragma once
// A primary and its standbys on one machine, each host a TRANSHIP_HOME of its own, with
// the real `tranship` binary (path in $TRANSHIP_EXE) run as real processes: stones via
// startstone, logsenders and logreceivers in the foreground as children of the test so
// that it can kill -9 them. Certificates come from certs/make-certs.sh
// ($TRANSHIP_MAKE_CERTS). Every process still running is killed when the Cluster goes.
// A host may live in a network namespace of its own (test/netns): its processes are
// started inside it, as `ip netns exec NS` would.

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "daemon/run_files.h"
#include "tranlog/format.h"
#include "test/free_port.h"
#include "test/test_util.h"

namespace tranship::test {

struct Proc {
  int code = -1;
  std::string out;  // stdout and stderr together
};

class Host {
 public:
  Host(std::string exe, std::string root) : exe_(std::move(exe)), root_(std::move(root)) {
    std::filesystem::create_directories(root_);
  }
  const std::string& root() const { return root_; }
  // The network namespace (a name under /run/netns) its processes run in; "" for this one.
  void set_netns(std::string name) { netns_ = std::move(name); }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }

  // Runs `tranship ARGS...` (or an alias given as argv0) to completion.
  Proc Run(const std::vector<std::string>& args, const std::string& argv0 = "tranship") const {
    std::string log = root_ + "/.cmd-output";
    pid_t pid = Spawn(args, log, argv0);
    Proc p;
    int st = 0;
    waitpid(pid, &st, 0);
    p.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    p.out = ReadAll(log);
    return p;
  }

  // Starts `tranship ARGS...` in the background, output to `log`.
  pid_t Spawn(const std::vector<std::string>& args, const std::string& log,
              const std::string& argv0 = "tranship") const {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (!netns_.empty()) {
        int ns = ::open(("/run/netns/" + netns_).c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(126);
      }
      setenv("TRANSHIP_HOME", root_.c_str(), 1);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<std::string> all = {argv0};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(exe_.c_str(), argv.data());
      _exit(127);
    }
    return pid;
  }

  pid_t PidOf(const std::string& pidfile) const {
    auto d = daemon::ReadPidFile(Path("run/" + pidfile));
    return d.ok() ? d->pid : 0;
  }

 private:
  std::string exe_;
  std::string root_;
  std::string netns_;
};

// How long the tests wait for standbys to converge before calling it a failure.
inline constexpr auto kConverge = std::chrono::seconds(60);

// Runs `tranship ARGS...` on `h` and requires it to succeed.
inline Proc Ok(const Host& h, const std::vector<std::string>& args) {
  Proc p = h.Run(args);
  INFO("tranship " << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << p.out);
  REQUIRE(p.code == 0);
  return p;
}

// `tranship admin STONE digest` on `h`, or "" if it failed.
inline std::string Digest(const Host& h, const std::string& stone) {
  Proc p = h.Run({"admin", stone, "digest"});
  return p.code == 0 ? p.out : std::string();
}

inline size_t CountLinesOf(const std::string& path) {
  std::string s = ReadAll(path);
  size_t n = 0;
  for (char ch : s) n += ch == '\n';
  return n;
}


// Whether every file of `dir_a` with the tranlog prefix is byte-identical to the file
// of the same name in `dir_b`, and both hold the same names.
inline bool SameTranlogs(const std::string& dir_a, const std::string& dir_b,
                         std::string* why = nullptr) {
  auto names = [](const std::string& d) {
    std::map<std::string, std::string> m;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(d, ec)) {
      std::string n = e.path().filename();
      uint64_t id;
      if (tranlog::ParseFileName(n, "tranlog", &id)) m[n] = e.path();
    }
    return m;
  };
  auto a = names(dir_a), b = names(dir_b);
  if (a.size() != b.size() || a.empty()) {
    if (why) *why = "file counts differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
    return false;
  }
  for (auto& [n, p] : a) {
    if (!b.count(n) || ReadAll(p) != ReadAll(b[n])) {
      if (why) *why = n + " differs";
      return false;
    }
  }
  return true;
}

// Whether the archive `archive` is a byte-identical copy of the tail of `primary`'s
// tranlogs: each of its files equals the primary's file of the same name, their numbers
// have no gap, and the last is the primary's last (an archive that began at a standby's
// restored position holds no earlier file).
inline bool ArchiveIsTailOf(const std::string& archive, const std::string& primary,
                            std::string* why = nullptr) {
  auto ids = [](const std::string& d) {
    std::map<uint64_t, std::string> m;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(d, ec)) {
      uint64_t id;
      if (tranlog::ParseFileName(e.path().filename().string(), "tranlog", &id)) m[id] = e.path();
    }
    return m;
  };
  auto a = ids(archive), p = ids(primary);
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (a.empty() || p.empty()) return fail("no tranlogs in " + (a.empty() ? archive : primary));
  if (a.rbegin()->first != p.rbegin()->first) {
    return fail("archive ends at tranlog " + std::to_string(a.rbegin()->first) +
                ", the primary at " + std::to_string(p.rbegin()->first));
  }
  uint64_t expect = a.begin()->first;
  for (auto& [id, path] : a) {
    if (id != expect++) return fail("archive has a gap before tranlog " + std::to_string(id));
    if (!p.count(id)) return fail("tranlog " + std::to_string(id) + " is not the primary's");
    std::string mine = ReadAll(path), theirs = ReadAll(p[id]);
    // The primary's newest file may end in preallocated zeros (docs/tranlog-format.md).
    if (id == p.rbegin()->first && theirs.size() > mine.size() &&
        theirs.find_first_not_of('\0', mine.size()) == std::string::npos) {
      theirs.resize(mine.size());
    }
    if (mine != theirs) {
      size_t at = 0;
      while (at < mine.size() && at < theirs.size() && mine[at] == theirs[at]) at++;
      return fail("tranlog " + std::to_string(id) + " differs from the primary's at byte " +
                  std::to_string(at) + " (sizes " + std::to_string(mine.size()) + " and " +
                  std::to_string(theirs.size()) + ")");
    }
  }
  return true;
}

class Cluster {
 public:
  explicit Cluster(int standbys) {
    const char* exe = std::getenv("TRANSHIP_EXE");
    REQUIRE_MESSAGE(exe != nullptr, "TRANSHIP_EXE must name the tranship binary");
    exe_ = exe;
    primary_ = std::make_unique<Host>(exe_, dir_ / "primary");
    for (int i = 0; i < standbys; i++) {
      standbys_.push_back(std::make_unique<Host>(exe_, dir_ / ("standby" + std::to_string(i + 1))));
    }
    port_ = FreePort();
  }
  ~Cluster() {
    for (pid_t p : children_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
    for (Host* h : AllHosts()) {
      for (const daemon::ProcessDescription& d : daemon::ReadPidFiles(h->Path("run"))) {
        if (d.pid > 0 && ProcessAlive(d.pid)) kill(d.pid, SIGKILL);
      }
    }
  }

  bool receivers_from_start = false;
  // The address the logsender listens on and the receivers connect to, and the name
  // (DNS name or IP address) its certificate is made for.
  std::string address = "127.0.0.1";
  std::string cert_name = "standby";

  Host& primary() { return *primary_; }
  Host& standby(int i) { return *standbys_[static_cast<size_t>(i)]; }
  int port() const { return port_; }
  std::string Temp(const std::string& name) const { return dir_ / name; }
  std::vector<Host*> AllHosts() {
    std::vector<Host*> v = {primary_.get()};
    for (auto& s : standbys_) v.push_back(s.get());
    return v;
  }

  // certs/make-certs.sh into a temp dir; returns the dir.
  std::string Certs() {
    if (!certs_.empty()) return certs_;
    const char* script = std::getenv("TRANSHIP_MAKE_CERTS");
    REQUIRE_MESSAGE(script != nullptr, "TRANSHIP_MAKE_CERTS must name certs/make-certs.sh");
    certs_ = dir_ / "certs";
    std::string cmd = std::string(script) + " " + certs_ + " " + cert_name + " >" + (dir_ / "certs.log") + " 2>&1";
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, ReadAll(dir_ / "certs.log"));
    return certs_;
  }
  std::vector<std::string> SenderTls(const std::string& key = "server") {
    std::string c = Certs();
    return {"-S", "-J", c + "/ca.pem", "-C", c + "/server.pem", "-K", c + "/" + key + ".key"};
  }
  std::vector<std::string> ReceiverTls(const std::string& cert = "client",
                                       const std::string& ca = "ca") {
    std::string c = Certs();
    return {"-S", "-J", c + "/" + ca + ".pem", "-C", c + "/" + cert + ".pem", "-K",
            c + "/" + cert + ".key"};
  }

  // A stone named `name` created and started on `host`.
  void StartStone(Host& host, const std::string& name) {
    Proc c = host.Run({"stone", "create", name});
    REQUIRE_MESSAGE(c.code == 0, c.out);
    Proc s = host.Run({"stone", "start", name});
    REQUIRE_MESSAGE(s.code == 0, s.out);
  }

  // startlogsender in the foreground on the primary, shipping stone `stone`.
  pid_t StartSender(const std::string& stone, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-P", std::to_string(port_), "-A", address, "-T",
                                     primary_->Path("data/" + stone + "/tranlog"), "-s", stone,
                                     "--foreground", "--timeout", "5"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t p = primary_->Spawn(args, Temp("sender.out"), "startlogsender");
    children_.push_back(p);
    return p;
  }
  std::string SenderLog() const { return ReadAll(primary_->Path("log/logsender-" + std::to_string(port_) + ".log")); }

  // startlogreceiver in the foreground on standby i, archiving into archive/ there. An
  // empty archive starts where the standby stone's state ends, unless
  // receivers_from_start (pure shipping tests, without a standby stone).
  pid_t StartReceiver(int i, const std::string& stone, std::vector<std::string> extra = {}) {
    Host& h = standby(i);
    std::vector<std::string> args = {"-P", std::to_string(port_), "-A", address, "-T",
                                     h.Path("archive"), "-s", stone, "--foreground",
                                     "--timeout", "5"};
    if (receivers_from_start) args.push_back("--from-start");
    args.insert(args.end(), extra.begin(), extra.end());
    std::filesystem::create_directories(h.Path("archive"));
    pid_t p = h.Spawn(args, Temp("receiver" + std::to_string(i) + ".out"), "startlogreceiver");
    children_.push_back(p);
    return p;
  }
  std::string ReceiverLog(int i, const std::string& stone) {
    return ReadAll(standby(i).Path("log/logreceiver-" + std::to_string(port_) + "-" + stone + ".log"));
  }

  static void KillNine(pid_t p) {
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  // SIGTERM and wait; returns the exit code.
  static int Stop(pid_t p) {
    kill(p, SIGTERM);
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  TempDir dir_;
  std::string exe_;
  std::unique_ptr<Host> primary_;
  std::vector<std::unique_ptr<Host>> standbys_;
  int port_ = 0;
  std::string certs_;
  std::vector<pid_t> children_;
};

// Standby i gets a copy of the stopped primary's repository (stone `prod`) and starts in
// restore mode (its restored position is the primary's durable end), in continuous
// restore over the archive its logreceiver will fill.
inline void SeedStandby(Cluster& c, int i, const std::string& name) {
  Host& p = c.primary();
  Host& s = c.standby(i);
  Ok(p, {"stone", "stop", "prod"});
  Ok(s, {"stone", "create", name});
  std::filesystem::remove_all(s.Path("data/" + name));
  std::filesystem::copy(p.Path("data/prod"), s.Path("data/" + name),
                        std::filesystem::copy_options::recursive);
  Ok(p, {"stone", "start", "prod"});
  Ok(s, {"stone", "start", name, "-R"});
  std::filesystem::create_directories(s.Path("archive"));
  Ok(s, {"admin", name, "continuous-restore", s.Path("archive")});
}

// `tranship workload` of 4 writers (2 keys per transaction) in the background on the
// primary's stone `prod` until it fails or `seconds` pass; returns its pid. Its ack log
// is `ack`; `prefix` keeps the keys of successive runs apart.
inline pid_t StartWorkload(Cluster& c, const std::string& ack, int seconds,
                           const std::string& prefix = "wl") {
  return c.primary().Spawn({"workload", "prod", "--writers", "4", "--transactions", "10000000",
                            "--seconds", std::to_string(seconds), "--keys-per-txn", "2",
                            "--ack-log", ack, "--key-prefix", prefix},
                           c.Temp("workload-" + prefix + ".out"));
}
// Acknowledged commits in an ack log (its first line is "writers N").
inline size_t Acks(const std::string& ack) {
  size_t n = CountLinesOf(ack);
  return n > 0 ? n - 1 : 0;
}

}  // namespace tranship::test
