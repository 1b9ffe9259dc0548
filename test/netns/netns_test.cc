// Multi-host runs in network namespaces. The trial: a primary and two standbys, each a
// namespace of test/netns/netns-cluster with a TRANSHIP_HOME of its own and its real
// processes inside it (stone, logsender over TLS on the primary's address; standby stones
// in continuous restore, logreceivers connecting to that address). Under a commit load,
// in turn: no impairment, latency 20 ms ± 5 ms on every host's egress, 2 % loss, standby1
// partitioned then healed, both standbys partitioned then healed. After each, both
// standbys converge: archives byte-identical with the primary's tranlogs, digests equal at
// the same TID, every acknowledged commit present. Then a planned failover to standby1,
// run from outside the namespaces with the homes as options. Lag and convergence figures
// are printed ("netns: ..."), never asserted. Full run: 3 rounds, 10 s phases (`chaos`);
// with TRANSHIP_CHAOS_SAMPLE set: 1 round, 2 s phases.
//
// The script test checks netns-cluster itself: its networks, cleanup, impairments that
// stay inside them, `run`. Everything here needs root: run by anyone else the binary
// skips (exit 77, test/needs_root.h). netns_usage_test.cc checks what needs no root:
// usage, and that the script refuses to run without root.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include "test/regex.h"
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "client/client.h"
#include "test/needs_root.h"
#include "test/netns/netns_script.h"
#include "test/shipping/cluster.h"

namespace tranship::test {

const char* const kNeedsRoot = "network namespaces, tc and nft need CAP_NET_ADMIN";

namespace {

// Whether process `pid` runs in the named network namespace.
bool InNamespace(pid_t pid, const std::string& name) {
  struct stat a {}, b {};
  return stat(("/run/netns/" + name).c_str(), &a) == 0 &&
         stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &b) == 0 && a.st_ino == b.st_ino &&
         a.st_dev == b.st_dev;
}

// One three-host network, up for the life of the object.
class Network {
 public:
  Network() : id_("t" + std::to_string(getpid())) {
    Proc up = RunScript({"up", "-i", id_});
    REQUIRE_MESSAGE(up.code == 0, up.out);
    std::istringstream in(up.out);
    std::string host, ns, addr;
    while (in >> host >> ns >> addr) hosts_[host] = {ns, addr};
    REQUIRE(hosts_.size() == 3);
  }
  ~Network() { RunScript({"down", id_}); }
  const std::string& id() const { return id_; }
  std::string ns(const std::string& host) { return hosts_.at(host).first; }
  std::string addr(const std::string& host) { return hosts_.at(host).second; }
  void Do(const std::vector<std::string>& args) {
    std::vector<std::string> all = {args[0], id_};
    all.insert(all.end(), args.begin() + 1, args.end());
    Proc p = RunScript(all);
    INFO("netns-cluster " << args[0] << ": " << p.out);
    REQUIRE(p.code == 0);
  }

 private:
  std::string id_;
  std::map<std::string, std::pair<std::string, std::string>> hosts_;
};

std::string Ref(const Host& h, const std::string& stone) { return h.root() + ":" + stone; }
std::string Hash(const std::string& digest) { return digest.substr(digest.rfind(' ') + 1); }

struct Percentiles {
  size_t n = 0;
  double min = 0, p50 = 0, p99 = 0;
};
Percentiles Of(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.min = v.front();
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return p;
}
std::string Show(const Percentiles& p) {
  char b[128];
  std::snprintf(b, sizeof(b), "p50 %.1f ms p99 %.1f ms (min %.1f, n=%zu)", p.p50, p.p99, p.min, p.n);
  return b;
}

class Trial {
 public:
  Trial() : c_(2) {
    c_.address = net_.addr("primary");
    c_.cert_name = c_.address;
    c_.primary().set_netns(net_.ns("primary"));
    c_.standby(0).set_netns(net_.ns("standby1"));
    c_.standby(1).set_netns(net_.ns("standby2"));
    c_.StartStone(c_.primary(), "prod");
    for (int i = 0; i < 2; i++) Seed(i);
    c_.StartSender("prod", c_.SenderTls());
    for (int i = 0; i < 2; i++) c_.StartReceiver(i, Name(i), c_.ReceiverTls());
  }

  Network& net() { return net_; }
  static std::unique_ptr<StoneClient> Connect(Host& h, const std::string& stone) {
    auto c = StoneClient::Connect(h.Path("run/" + stone + ".sock"), stone);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    return std::move(*c);
  }
  Cluster& cluster() { return c_; }
  static std::string Name(int i) { return "standby" + std::to_string(i + 1); }

  // A workload of 4 writers on the primary for `seconds`, in its namespace, its keys
  // and ack log named by `load`.
  pid_t StartLoad(const std::string& load, int seconds) { return StartWorkload(c_, Ack(load), seconds, load); }
  std::string Ack(const std::string& load) { return c_.Temp("ack-" + load); }
  static bool Running(pid_t p) { return waitpid(p, nullptr, WNOHANG) == 0; }

  // Commit-to-visible lag on each standby while `load` runs: commit lag/N on the
  // primary, then read each standby until the key is there (from this namespace: the
  // stones' Unix sockets). Returns milliseconds per standby.
  std::array<std::vector<double>, 2> SampleLag(pid_t load) {
    auto p = Connect(c_.primary(), "prod");
    std::array<std::unique_ptr<StoneClient>, 2> s = {Connect(c_.standby(0), Name(0)),
                                                     Connect(c_.standby(1), Name(1))};
    std::array<std::vector<double>, 2> ms;
    while (Running(load)) {
      std::string key = "lag/" + std::to_string(lag_key_++);
      uint64_t t0 = MonotonicNanos();
      REQUIRE(p->Put(key, "x").ok());
      for (int i = 0; i < 2; i++) {
        bool seen = WaitFor([&] {
          auto r = s[i]->Get(key);
          return r.ok() && r->found;
        }, kConverge);
        REQUIRE_MESSAGE(seen, key << " never became visible on " << Name(i));
        ms[i].push_back(static_cast<double>(MonotonicNanos() - t0) / 1e6);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // spacing between samples
    }
    return ms;
  }

  // Waits until both standbys hold exactly the primary's tranlogs and state; returns how
  // long that took in seconds.
  double Converge(const std::string& load) {
    uint64_t t0 = MonotonicNanos();
    std::string why;
    bool ok = WaitFor([&] {
      std::string d = Digest(c_.primary(), "prod");
      for (int i = 0; i < 2; i++) {
        std::string s = Digest(c_.standby(i), Name(i));
        if (s != d) return why = Name(i) + ": '" + s + "' vs primary '" + d + "'", false;
      }
      for (int i = 0; i < 2; i++) {
        if (!ArchiveIsTailOf(c_.standby(i).Path("archive"), c_.primary().Path("data/prod/tranlog"), &why)) {
          why = Name(i) + ": " + why;
          return false;
        }
      }
      return true;
    }, kConverge);
    double s = static_cast<double>(MonotonicNanos() - t0) / 1e9;
    INFO(why);
    INFO("receiver log standby1: " << c_.ReceiverLog(0, Name(0)));
    REQUIRE(ok);
    for (int i = 0; i < 2; i++) CheckAcked(c_.standby(i), Name(i), load);
    return s;
  }

  // Every commit `load` acknowledged is on the stone, whole, and nothing it never sent.
  void CheckAcked(Host& h, const std::string& stone, const std::string& load) {
    Ok(h, {"workload", stone, "--check", Ack(load), "--keys-per-txn", "2", "--key-prefix", load});
  }

  // The TID in `tranship admin STONE digest` of standby i / the primary.
  uint64_t Tid(Host& h, const std::string& stone) {
    std::smatch m;
    std::string d = Digest(h, stone);
    return std::regex_search(d, m, std::regex("^tid ([0-9]+) ")) ? std::stoull(m[1]) : 0;
  }

 private:
  // A full backup of the primary, `stone create --from-backup`, continuous restore over
  // the archive the logreceiver fills.
  void Seed(int i) {
    std::string backup = c_.Temp(Name(i) + ".bak");
    Ok(c_.primary(), {"admin", "prod", "full-backup", backup});
    Host& s = c_.standby(i);
    Ok(s, {"stone", "create", Name(i), "--from-backup", backup});
    Ok(s, {"stone", "start", Name(i)});
    std::filesystem::create_directories(s.Path("archive"));
    Ok(s, {"admin", Name(i), "continuous-restore", s.Path("archive")});
  }

  Network net_;  // declared first: it goes last, after every process of the cluster
  Cluster c_;
  uint64_t lag_key_ = 0;
};

int SampleOr(int full, int sampled) { return std::getenv("TRANSHIP_CHAOS_SAMPLE") ? sampled : full; }

}  // namespace

TEST_CASE("NetnsClusterScriptNetworksCleanupImpairmentsAndRun") {
  // `up` makes four namespaces and names them; a second `up` of the same ID is refused
  // and leaves the first alone. `cleanup` removes a network whose owner (the caller of
  // `up`, here a shell) has exited, processes in it included, and keeps one whose owner
  // runs (this test; or a trial running beside it).
  std::string kept = "k" + std::to_string(getpid());
  Proc mine = RunScript({"up", "-i", kept});
  REQUIRE_MESSAGE(mine.code == 0, mine.out);
  CHECK(mine.out == "primary tranship-" + kept + "-primary 10.77.0.1\nstandby1 tranship-" + kept +
                        "-standby1 10.77.0.2\nstandby2 tranship-" + kept + "-standby2 10.77.0.3\n");
  std::string id = "c" + std::to_string(getpid());
  REQUIRE(std::system(("sh -c '" + Script() + " up -i " + id + " >/dev/null; true'").c_str()) == 0);
  Proc again = RunScript({"up", "-i", id});
  CHECK(again.code == 1);
  CHECK(again.out.find("already exists") != std::string::npos);
  for (std::string h : {"switch", "primary", "standby1", "standby2"}) CHECK(NamespaceExists("tranship-" + id + "-" + h));
  pid_t sleeper = fork();
  if (sleeper == 0) {
    execl("/usr/sbin/ip", "ip", "netns", "exec", ("tranship-" + id + "-standby1").c_str(), "sleep", "600", nullptr);
    _exit(127);
  }
  REQUIRE(WaitFor([&] { return InNamespace(sleeper, "tranship-" + id + "-standby1"); }));
  Proc clean = RunScript({"cleanup"});
  CHECK_MESSAGE(clean.code == 0, clean.out);
  CHECK(clean.out.find("removed network " + id) != std::string::npos);
  CHECK(clean.out.find("kept network " + kept + ": its owner, pid " + std::to_string(getpid()) + ", still runs") !=
        std::string::npos);
  CHECK(NamespaceExists("tranship-" + kept + "-switch"));
  CHECK(RunScript({"down", kept}).code == 0);
  CHECK(!NamespaceExists("tranship-" + kept + "-switch"));
  int st = 0;
  CHECK(waitpid(sleeper, &st, 0) == sleeper);
  CHECK(WIFSIGNALED(st));
  for (std::string h : {"switch", "primary", "standby1", "standby2"}) CHECK(!NamespaceExists("tranship-" + id + "-" + h));

  // Impairments and partitions change nothing in this (the machine's own) namespace:
  // no interface of the network, no nftables table, no netem qdisc appears here.
  auto outside = [] {
    TempDir t;
    std::string f = t / "out";
    REQUIRE(std::system(("(ip -o link show; nft list tables; tc qdisc show) 2>&1 | grep -E "
                         "'^[0-9]+: (br0|eth0|primary|standby[12])[@:]|tranship|netem' >" + f).c_str()) >= 0);
    return ReadAll(f);
  };
  std::string before = outside();
  std::string nid = "n" + std::to_string(getpid());
  REQUIRE(RunScript({"up", "-i", nid}).code == 0);
  Proc netem = RunScript({"netem", nid, "primary", "delay", "20", "jitter", "5", "loss", "1"});
  CHECK_MESSAGE(netem.code == 0, netem.out);
  Proc part = RunScript({"partition", nid, "standby1"});
  CHECK_MESSAGE(part.code == 0, part.out);
  CHECK(outside() == before);
  Proc shown = RunScript({"show", nid});
  CHECK(shown.out.find("tranship_partition") != std::string::npos);
  CHECK(RunScript({"down", nid}).code == 0);
  CHECK(outside() == before);

  // `run` takes the network down however the command ends.
  std::string rid = "r" + std::to_string(getpid());
  Proc run = RunScript({"run", "-i", rid, "--", "sh", "-c", "echo $NETNS_STANDBY2 $NETNS_PRIMARY_ADDR; exit 3"});
  CHECK(run.code == 3);
  CHECK(run.out == "tranship-" + rid + "-standby2 10.77.0.1\n");
  CHECK(!NamespaceExists("tranship-" + rid + "-switch"));

  // Ctrl-C (SIGINT to the foreground process group) during `run` takes it down too.
  std::string iid = "i" + std::to_string(getpid());
  pid_t runner = fork();
  if (runner == 0) {
    setpgid(0, 0);
    std::string path = Script();
    execl(path.c_str(), "netns-cluster", "run", "-i", iid.c_str(), "--", "sleep", "600", nullptr);
    _exit(127);
  }
  setpgid(runner, runner);
  REQUIRE(WaitFor([&] { return NamespaceExists("tranship-" + iid + "-standby2"); }));
  REQUIRE(WaitFor([&] { return system(("pgrep -g " + std::to_string(runner) + " -x sleep >/dev/null").c_str()) == 0; }));
  kill(-runner, SIGINT);
  REQUIRE(waitpid(runner, &st, 0) == runner);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 130);
  for (std::string h : {"switch", "primary", "standby1", "standby2"}) CHECK(!NamespaceExists("tranship-" + iid + "-" + h));
}

TEST_CASE("NetnsTrialStandbysConvergeUnderNetemAndPartitionsThenFailOver") {
  const int rounds = SampleOr(3, 1);
  const int seconds = SampleOr(10, 2);
  const int partition_s = SampleOr(8, 2);
  Trial t;
  Cluster& c = t.cluster();
  Network& net = t.net();
  const std::vector<std::string> hosts = {"primary", "standby1", "standby2"};
  uint64_t started = MonotonicNanos();

  struct Setting {
    std::string name;
    std::vector<std::string> netem;  // per host, "" for none
  };
  const std::vector<Setting> settings = {
      {"no impairment", {}},
      {"latency 20 ms ± 5 ms on each host", {"delay", "20", "jitter", "5"}},
      {"loss 2 % on each host", {"loss", "2"}},
  };
  for (int round = 1; round <= rounds; round++) {
    for (const Setting& s : settings) {
      CAPTURE(s.name);
      for (const std::string& h : hosts) {
        std::vector<std::string> args = {"netem", h};
        if (s.netem.empty()) args.push_back("off");
        args.insert(args.end(), s.netem.begin(), s.netem.end());
        net.Do(args);
      }
      std::string name = "r" + std::to_string(round) + "s" + std::to_string(&s - &settings[0]);
      pid_t load = t.StartLoad(name, seconds);
      auto lag = t.SampleLag(load);
      for (const std::string& h : hosts) net.Do({"netem", h, "off"});
      double conv = t.Converge(name);
      Percentiles l1 = Of(lag[0]), l2 = Of(lag[1]);
      std::printf("netns: round %d, %s: lag standby1 %s; standby2 %s; converged %.2f s after the load\n",
                  round, s.name.c_str(), Show(l1).c_str(), Show(l2).c_str(), conv);
      std::fflush(stdout);
      CHECK(l1.n > 0);
      // The impairment really acted: no record reaches a standby in less than the
      // primary's minimum one-way delay (20 - 5 ms).
      if (!s.netem.empty() && s.netem[0] == "delay") CHECK(l1.min >= 15.0);
    }
    for (std::vector<std::string> cut : {std::vector<std::string>{"standby1"},
                                         std::vector<std::string>{"standby1", "standby2"}}) {
      std::string name = cut.size() == 1 ? "partition of standby1" : "partition of both standbys";
      CAPTURE(name);
      std::string load_name = "r" + std::to_string(round) + "p" + std::to_string(cut.size());
      pid_t load = t.StartLoad(load_name, partition_s + 1);
      REQUIRE(WaitFor([&] { return Acks(t.Ack(load_name)) > 0; }, kConverge));  // committing
      std::vector<std::string> args = {"partition"};
      args.insert(args.end(), cut.begin(), cut.end());
      net.Do(args);
      // The partition lasts partition_s seconds: the scenario's length, not synchronisation.
      std::this_thread::sleep_for(std::chrono::seconds(partition_s));
      uint64_t primary_tid = t.Tid(c.primary(), "prod");
      for (size_t i = 0; i < cut.size(); i++) {
        // Cut off, the standby did not follow the primary (it may still replay what it
        // had received before the cut).
        CHECK(t.Tid(c.standby(static_cast<int>(i)), Trial::Name(static_cast<int>(i))) < primary_tid);
      }
      net.Do({"heal"});
      uint64_t healed = MonotonicNanos();
      int st = 0;
      REQUIRE(waitpid(load, &st, 0) == load);
      t.Converge(load_name);
      std::printf("netns: round %d, %s for %d s: converged %.2f s after the heal\n", round,
                  name.c_str(), partition_s, static_cast<double>(MonotonicNanos() - healed) / 1e9);
      std::fflush(stdout);
    }
  }

  // A planned failover to standby1 under load and 20 ms ± 5 ms latency, run from this
  // (the host's) namespace with the three homes as options.
  for (const std::string& h : hosts) net.Do({"netem", h, "delay", "20", "jitter", "5"});
  pid_t load = t.StartLoad("failover", 120);
  REQUIRE(WaitFor([&] { return Acks(t.Ack("failover")) >= 100; }, kConverge));
  Host outside(Env("TRANSHIP_EXE"), c.Temp("outside"));
  Proc f = outside.Run({"failover", "--planned", "--primary", Ref(c.primary(), "prod"), "--standby",
                        Ref(c.standby(0), "standby1"), "--other-standby",
                        Ref(c.standby(1), "standby2"), "--timeout", "60"});
  INFO(f.out);
  REQUIRE(f.code == 0);
  int st = 0;
  REQUIRE(waitpid(load, &st, 0) == load);
  std::smatch m;
  REQUIRE(std::regex_search(f.out, m, std::regex("failover checkpoint at TID ([0-9]+)")));
  std::string at_failover = Digest(c.primary(), "prod");
  CHECK(at_failover.starts_with("tid " + std::string(m[1]) + " "));
  CHECK(Hash(Digest(c.standby(0), "standby1")) == Hash(at_failover));
  CHECK(Digest(c.standby(1), "standby2") == at_failover);
  t.CheckAcked(c.standby(0), "standby1", "failover");
  // The new primary takes writes across the namespaces; the old one still refuses them.
  Ok(c.standby(0), {"put", "standby1", "after-failover", "1"});
  CHECK(c.standby(0).Run({"get", "standby1", "after-failover"}).out == "1\n");
  CHECK(c.primary().Run({"put", "prod", "x", "y"}).code == 1);
  std::printf("netns: planned failover under 20 ms ± 5 ms:\n%s", f.out.c_str());
  std::printf("netns: trial took %.1f s\n", static_cast<double>(MonotonicNanos() - started) / 1e9);
}

}  // namespace tranship::test
