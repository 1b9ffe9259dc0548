// Standby lag and planned failover, with real processes over loopback: a primary stone,
// its logsender, a logreceiver and a standby stone in continuous restore, each host a
// TRANSHIP_HOME of its own.
//
//   build/bench/lag_bench [--samples N] [--rate COMMITS_PER_S] [--seconds S] [--tranship PATH]
//
// Commit-to-visible latency: a sampler commits key lag/i on the primary and reads the
// standby until the key is there; the time from just before the commit to the first
// successful read, at idle and under a background load of --rate commits/s (default
// 10,000) from 8 paced writers. The sampler reads again every 50 us or so (a spinning
// reader took a core's worth of CPU from the daemons it measures; LAG_BENCH_SPIN=1
// spins), so a figure may be up to ~0.1 ms late. Beside each figure it prints how long
// the sampler's commit itself took, and first, before the logsender starts, the same
// commits on the primary alone at idle and under the same load: what the commit costs
// before anything ships (invariant 2: a record ships only once it is durable, so
// commit-to-visible can never be shorter than the commit). Under load it also prints the
// CPU each daemon used per commit (from /proc). Then a planned failover measured from suspend-commits on
// the primary to the first write accepted by the new primary: suspend-commits, wait for
// the standby to stop at the failover checkpoint, stop the logreceiver, commit-restore,
// first write.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "client/client.h"

using namespace tranship;
namespace fs = std::filesystem;

namespace {

std::string g_tranship;

int Run(const std::string& home, const std::vector<std::string>& args, const std::string& argv0 = "tranship") {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("TRANSHIP_HOME", home.c_str(), 1);
    FILE* f = std::fopen((home + "/.bench-cmd.log").c_str(), "a");
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
    std::vector<std::string> all = {argv0};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(g_tranship.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void Must(const std::string& home, const std::vector<std::string>& args, const std::string& argv0 = "tranship") {
  if (Run(home, args, argv0) != 0) {
    std::fprintf(stderr, "lag_bench: '%s %s' failed; see %s/.bench-cmd.log\n", argv0.c_str(),
                 args.empty() ? "" : args[0].c_str(), home.c_str());
    std::exit(1);
  }
}

std::unique_ptr<StoneClient> Connect(const std::string& home, const std::string& stone) {
  auto c = StoneClient::Connect(home + "/run/" + stone + ".sock", stone);
  if (!c.ok()) {
    std::fprintf(stderr, "lag_bench: %s\n", c.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*c);
}

// CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
double CpuSeconds(int pid) {
  FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r");
  if (f == nullptr) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (p == nullptr) return 0;
  unsigned long utime = 0, stime = 0;
  // Fields after the name: state(3) ... utime(14) stime(15).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The daemons of a home: (what, pid) from its run/*.pid files.
std::vector<std::pair<std::string, int>> Daemons(const std::string& home, const std::string& host) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& e : fs::directory_iterator(home + "/run")) {
    if (e.path().extension() != ".pid") continue;
    FILE* f = std::fopen(e.path().c_str(), "r");
    if (f == nullptr) continue;
    int pid = 0;
    if (std::fscanf(f, "%d", &pid) == 1 && pid > 0) {
      out.emplace_back(host + " " + e.path().stem().string(), pid);
    }
    std::fclose(f);
  }
  return out;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles Of(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  p.max = v.back();
  return p;
}

// Commits lag/<n> on the primary, then reads the standby until it is visible.
struct Samples {
  std::vector<double> visible;  // commit start -> visible on the standby
  std::vector<double> commit;   // commit start -> acknowledged by the primary
};

Samples Sample(StoneClient* primary, StoneClient* standby, int samples, int first) {
  Samples out;
  std::vector<double>& us = out.visible;
  const bool spin = std::getenv("LAG_BENCH_SPIN") != nullptr;
  for (int i = 0; i < samples; i++) {
    std::string key = fmt::format("lag/{}", first + i);
    uint64_t t0 = MonotonicNanos();
    if (!primary->Put(key, "x").ok()) std::exit(1);
    const double commit_us = static_cast<double>(MonotonicNanos() - t0) / 1000.0;
    uint64_t deadline = t0 + 10'000'000'000ull;
    while (standby != nullptr) {
      auto r = standby->Get(key);
      if (r.ok() && r->found) break;
      if (!spin) usleep(50);
      if (MonotonicNanos() > deadline) {
        std::fprintf(stderr, "lag_bench: %s never became visible on the standby\n", key.c_str());
        std::exit(1);
      }
    }
    us.push_back(static_cast<double>(MonotonicNanos() - t0) / 1000.0);
    out.commit.push_back(commit_us);
    if (std::getenv("LAG_BENCH_KEEP") != nullptr && us.back() > 20000) {
      std::fprintf(stderr, "slow sample %s: %.1f ms (the commit itself %.1f ms), ended at %s\n",
                   key.c_str(), us.back() / 1000, commit_us / 1000,
                   FormatLocalTime(NowMicros()).c_str());
    }
    usleep(2000);  // spacing between samples, not synchronisation
  }
  return out;
}

// What one phase measured: samples under an offered load (none at idle).
struct Phase {
  Percentiles visible;  // commit start -> visible on the standby (none without a standby)
  Percentiles commit;   // commit start -> acknowledged by the primary
  double commits_per_s = 0;
  std::string cpu;      // CPU each daemon used, under load
};

// Runs `samples` samples (keys from `first`) while 8 paced writers offer `rate` commits/s
// to the primary (none if 0); without a standby the samples only commit. The CPU of
// `daemons` is reported per commit.
Phase Measure(const std::string& home, StoneClient* primary, StoneClient* standby, int samples,
              int first, double rate, std::vector<std::pair<std::string, int>> daemons = {},
              const std::vector<std::pair<std::string, int>>& more = {}) {
  daemons.insert(daemons.end(), more.begin(), more.end());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> load_commits{0};
  std::vector<std::thread> writers;
  constexpr int kWriters = 8;
  for (int w = 0; rate > 0 && w < kWriters; w++) {
    writers.emplace_back([&, w] {
      auto c = Connect(home, "prod");
      uint64_t interval = static_cast<uint64_t>(1e9 * kWriters / rate);
      uint64_t next = MonotonicNanos();
      for (uint64_t i = 0; !stop.load(); i++) {
        (void)c->Put(fmt::format("load/{}/{}", w, i % 1000), "0123456789abcdef0123456789");
        load_commits++;
        next += interval;
        uint64_t now = MonotonicNanos();
        if (next > now) usleep(static_cast<useconds_t>((next - now) / 1000));  // pacing
      }
    });
  }
  uint64_t t0 = MonotonicNanos();
  std::vector<double> cpu0;
  for (auto& d : daemons) cpu0.push_back(CpuSeconds(d.second));
  uint64_t c0 = load_commits;
  Samples got = Sample(primary, standby, samples, first);
  double seconds = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  Phase out;
  out.visible = Of(got.visible);
  out.commit = Of(got.commit);
  out.commits_per_s = static_cast<double>(load_commits) / seconds;
  double commits = static_cast<double>(load_commits - c0 + static_cast<uint64_t>(samples));
  for (size_t i = 0; i < daemons.size(); i++) {
    double used = CpuSeconds(daemons[i].second) - cpu0[i];
    out.cpu += fmt::format("{}{} {:.0f}% ({:.0f} us/commit)", i ? ", " : "", daemons[i].first,
                           100 * used / seconds, 1e6 * used / commits);
  }
  stop = true;
  for (auto& t : writers) t.join();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 500;
  double rate = 10000;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--samples" && i + 1 < argc) samples = std::stoi(argv[++i]);
    else if (a == "--rate" && i + 1 < argc) rate = std::stod(argv[++i]);
    else if (a == "--tranship" && i + 1 < argc) g_tranship = argv[++i];
    else {
      std::fprintf(stderr, "usage: lag_bench [--samples N] [--rate COMMITS_PER_S] [--tranship PATH]\n");
      return 2;
    }
  }
  std::string self = fs::canonical("/proc/self/exe").string();
  if (g_tranship.empty()) {
    g_tranship = fs::path(self).parent_path().parent_path().string() + "/cli/tranship";
  }
  std::string dir = fmt::format("/var/tmp/tranship-lag-bench-{}", getpid());
  fs::remove_all(dir);
  std::string P = dir + "/primary", S = dir + "/standby";
  fs::create_directories(P);
  fs::create_directories(S + "/archive");
  std::string port = std::to_string(46000 + getpid() % 1000);

  Must(P, {"stone", "create", "prod"});
  Must(P, {"stone", "start", "prod"});
  Must(P, {"admin", "prod", "full-backup", dir + "/seed.backup"});
  // The primary alone first: what its commits cost at this load before anything ships.
  Phase alone_idle, alone_loaded;
  {
    auto p = Connect(P, "prod");
    alone_idle = Measure(P, p.get(), nullptr, samples, 2 * samples, 0);
    alone_loaded = Measure(P, p.get(), nullptr, samples, 3 * samples, rate, Daemons(P, "primary"));
  }
  Must(S, {"stone", "create", "standby", "--from-backup", dir + "/seed.backup"});
  Must(S, {"stone", "start", "standby"});
  Must(P, {"-P", port, "-A", "127.0.0.1", "-T", P + "/data/prod/tranlog", "-s", "prod", "-q"},
       "startlogsender");
  Must(S, {"-P", port, "-A", "127.0.0.1", "-T", S + "/archive", "-s", "standby", "-q"},
       "startlogreceiver");
  Must(S, {"admin", "standby", "continuous-restore", S + "/archive"});

  auto primary = Connect(P, "prod");
  auto standby = Connect(S, "standby");
  // The standby first replays what the primary-alone phase committed.
  (void)Sample(primary.get(), standby.get(), 1, 4 * samples);
  auto idle = Measure(P, primary.get(), standby.get(), samples, 0, 0);
  auto loaded = Measure(P, primary.get(), standby.get(), samples, samples, rate, Daemons(P, "primary"),
                        Daemons(S, "standby"));

  // Planned failover: suspend to the first write on the new primary.
  uint64_t f0 = MonotonicNanos();
  auto suspended = primary->Admin("suspend-commits");
  if (!suspended.ok()) return 1;
  uint64_t f1 = MonotonicNanos();
  while (true) {
    auto st = standby->Admin("restore-status", {"--json"});
    if (st.ok() && st->find("\"continuous\":false") != std::string::npos) break;
    if (MonotonicNanos() - f0 > 30'000'000'000ull) {
      std::fprintf(stderr, "lag_bench: the standby did not stop at the failover checkpoint\n");
      return 1;
    }
  }
  uint64_t f2 = MonotonicNanos();
  Must(S, {"-P", port, "-s", "standby"}, "stoplogreceiver");
  uint64_t f3 = MonotonicNanos();
  auto committed = standby->Admin("commit-restore");
  uint64_t f4 = MonotonicNanos();
  if (!committed.ok()) {
    std::fprintf(stderr, "lag_bench: commit-restore: %s\n", committed.status().ToString().c_str());
    return 1;
  }
  auto first = standby->Put("after-failover", "1");
  uint64_t f5 = MonotonicNanos();
  if (!first.ok()) return 1;

  auto ms = [](uint64_t a, uint64_t b) { return static_cast<double>(b - a) / 1e6; };
  auto row = [](const char* what, const Percentiles& p, const Percentiles& c) {
    std::printf("  %-33s %8.0f %8.0f %8.0f   %8.0f %8.0f\n", what, p.p50, p.p99, p.max, c.p50, c.p99);
  };
  std::string at = fmt::format("at {:.0f} commits/s", loaded.commits_per_s);
  std::string alone_at = fmt::format("at {:.0f} commits/s", alone_loaded.commits_per_s);
  std::printf("commit -> visible on the standby (us)   p50      p99      max   commit p50  p99\n");
  row("idle", idle.visible, idle.commit);
  row(at.c_str(), loaded.visible, loaded.commit);
  std::printf("the primary alone, before the logsender started (us)        commit p50  p99\n");
  std::printf("  %-33s %26s %8.0f %8.0f\n", "idle", "", alone_idle.commit.p50, alone_idle.commit.p99);
  std::printf("  %-33s %26s %8.0f %8.0f\n", alone_at.c_str(), "", alone_loaded.commit.p50,
              alone_loaded.commit.p99);
  std::printf("CPU under load: %s\n", loaded.cpu.c_str());
  std::printf("CPU of the primary alone under load: %s\n", alone_loaded.cpu.c_str());
  std::printf("planned failover: %.1f ms from suspend-commits to the first write on the new primary\n",
              ms(f0, f5));
  std::printf("  suspend-commits %.1f ms, standby stopped at the failover checkpoint %.1f ms, "
              "stoplogreceiver %.1f ms, commit-restore %.1f ms, first write %.1f ms\n",
              ms(f0, f1), ms(f1, f2), ms(f2, f3), ms(f3, f4), ms(f4, f5));
  std::printf("{\"idle_p50_us\": %.0f, \"idle_p99_us\": %.0f, \"load_commits_per_s\": %.0f, "
              "\"load_p50_us\": %.0f, \"load_p99_us\": %.0f, \"load_commit_p99_us\": %.0f, "
              "\"alone_load_commit_p99_us\": %.0f, \"failover_ms\": %.1f}\n",
              idle.visible.p50, idle.visible.p99, loaded.commits_per_s, loaded.visible.p50,
              loaded.visible.p99, loaded.commit.p99, alone_loaded.commit.p99, ms(f0, f5));

  primary.reset();
  standby.reset();
  Run(P, {"-P", port}, "stoplogsender");
  Run(P, {"stone", "stop", "prod"});
  Run(S, {"stone", "stop", "standby"});
  if (std::getenv("LAG_BENCH_KEEP") != nullptr) {
    std::printf("kept %s (LAG_BENCH_KEEP)\n", dir.c_str());
  } else {
    fs::remove_all(dir);
  }
  return 0;
}
