// Stall benchmark: commit latency while the stone reads its whole state — a checkpoint,
// a full backup, a digest — against the same load without them, at large states.
//
//   build/bench/stall_bench [--keys N[,N...]] [--clients C] [--seconds S] [--dir DIR]
//                           [--write-rate MB] [--json FILE]
//
// For each state size (default 1,000,000 and 10,000,000 keys of 100-byte values): builds
// the state in bulk transactions, checkpoints it, then runs C clients (default 16), each
// committing one 100-byte put at a random existing key and waiting for it, through four
// phases of S seconds (default 10): quiet, checkpoints, full backups, digests, and quiet
// again (the two quiet phases differ by this run's noise). In each
// busy phase one operation runs after the other for the whole phase. Per phase it prints
// commits/s, the commit latency p50/p99/max, how many operations ran and how long each
// took, and the memory they added: the peak RSS during the phase minus the RSS at its
// start, beside the state's own size (the RSS the build added). Then the ratios the
// design asks for: p99(phase) / p99(quiet, the mean of the two) (target <= 1.2) and
// added memory / state
// (target <= 0.1).
//
// The stone is embedded (Stone::Open in this process, clients calling Engine::Commit),
// so the figures are the engine's own, without the socket. The repository lives in --dir
// (default a fresh directory under /var/tmp, a real disk).

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "engine/engine.h"
#include "restore/backup.h"
#include "stone/stone.h"

using namespace tranship;

namespace {

uint64_t RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

double Percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

std::string Key(uint64_t i) { return fmt::format("key{:012}", i); }

struct Phase {
  std::string name;
  uint64_t commits = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  uint64_t ops = 0;
  double op_ms_max = 0, op_ms_sum = 0;
  uint64_t rss_added_kib = 0;
};

// Runs `clients` committing threads for `seconds`, with `op` (if any) run over and over
// on another thread, and the RSS sampled every 10 ms.
Phase RunPhase(Engine* engine, const std::string& name, uint64_t keys, int clients,
               double seconds, const std::function<Status()>& op) {
  Phase ph;
  ph.name = name;
  std::atomic<bool> stop{false};
  std::vector<std::vector<uint32_t>> lat(static_cast<size_t>(clients));
  const uint64_t rss_start = RssKiB();
  std::atomic<uint64_t> rss_peak{rss_start};
  std::thread sampler([&] {
    while (!stop) {
      rss_peak = std::max(rss_peak.load(), RssKiB());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the sampling period
    }
  });
  std::thread heavy;
  if (op) {
    heavy = std::thread([&] {
      while (!stop) {
        uint64_t t0 = MonotonicNanos();
        Status s = op();
        if (!s.ok()) {
          std::fprintf(stderr, "stall_bench: %s failed: %s\n", name.c_str(), s.ToString().c_str());
          std::exit(1);
        }
        double ms = static_cast<double>(MonotonicNanos() - t0) / 1e6;
        ph.ops++;
        ph.op_ms_sum += ms;
        ph.op_ms_max = std::max(ph.op_ms_max, ms);
      }
    });
  }
  std::vector<std::thread> ts;
  const uint64_t t0 = MonotonicNanos();
  for (int c = 0; c < clients; c++) {
    ts.emplace_back([&, c] {
      std::mt19937_64 rng(static_cast<uint64_t>(c) * 7919 + 1);
      std::string value(100, 'v');
      auto& l = lat[static_cast<size_t>(c)];
      l.reserve(1 << 20);
      while (!stop.load(std::memory_order_relaxed)) {
        for (size_t i = 0; i < value.size(); i += 8) value[i] = static_cast<char>('a' + rng() % 26);
        TxnRequest t;
        t.writes.push_back(WriteOp{WriteOp::Kind::kPut, Key(rng() % keys), value});
        uint64_t s = MonotonicNanos();
        Result<uint64_t> r = engine->Commit(std::move(t));
        if (!r.ok()) {
          std::fprintf(stderr, "stall_bench: commit failed: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        l.push_back(static_cast<uint32_t>((MonotonicNanos() - s) / 1000));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured window
  stop = true;
  for (auto& t : ts) t.join();
  ph.seconds = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  if (heavy.joinable()) heavy.join();  // the operation in flight finishes
  sampler.join();
  std::vector<uint32_t> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  ph.commits = all.size();
  ph.p50_us = Percentile(all, 0.50);
  ph.p99_us = Percentile(all, 0.99);
  ph.max_us = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  ph.rss_added_kib = rss_peak > rss_start ? rss_peak - rss_start : 0;
  return ph;
}

std::vector<uint64_t> ParseList(const std::string& s) {
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(std::strtoull(part.c_str(), nullptr, 10));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // In the stone daemon the clients are connections served by one loop thread. Here
  // they are 16 threads, and glibc would give each its own malloc arena, whose growth
  // would count as memory the checkpoint added.
  mallopt(M_ARENA_MAX, 2);
  std::vector<uint64_t> sizes = {1000000, 10000000};
  int clients = 16;
  double seconds = 10;
  std::string dir, json_path;
  long long write_rate_mb = -1;  // -1: the engine's default (STN_STATE_WRITE_RATE)
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "stall_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--keys") sizes = ParseList(next());
    else if (a == "--clients") clients = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--dir") dir = next();
    else if (a == "--write-rate") write_rate_mb = std::strtoll(next().c_str(), nullptr, 10);
    else if (a == "--json") json_path = next();
    else {
      std::fprintf(stderr,
                   "usage: stall_bench [--keys N[,N...]] [--clients C] [--seconds S] [--dir DIR] "
                   "[--write-rate MB] [--json FILE]\n");
      return 2;
    }
  }
  const bool own_dir = dir.empty();
  if (own_dir) dir = fmt::format("/var/tmp/tranship-stall-bench-{}", getpid());

  JsonWriter j;
  j.BeginArray();
  std::printf("%-10s %-11s %10s %9s %9s %10s %5s %10s %12s %9s %9s\n", "keys", "phase",
              "commits/s", "p50 us", "p99 us", "max us", "ops", "op max ms", "added MiB",
              "p99 x", "added x");
  for (uint64_t keys : sizes) {
    std::filesystem::remove_all(dir);
    (void)LogInit(dir + ".log", LogLevel::kInfo);
    EngineOptions o;
    o.extent_dir = dir + "/extent";
    o.tranlog_dirs = {dir + "/tranlog"};
    o.checkpoint_interval_s = 0;
    o.stone_name = "bench";
    if (write_rate_mb >= 0) o.state_write_bytes_per_s = static_cast<uint64_t>(write_rate_mb) << 20;
    if (Status s = Engine::Create(o); !s.ok()) {
      std::fprintf(stderr, "stall_bench: %s\n", s.ToString().c_str());
      return 1;
    }
    auto stone = Stone::Open(o);
    if (!stone.ok()) {
      std::fprintf(stderr, "stall_bench: %s\n", stone.status().ToString().c_str());
      return 1;
    }
    Engine* engine = (*stone)->engine();
    const uint64_t rss_empty = RssKiB();
    const std::string value(100, 'x');
    for (uint64_t k = 0; k < keys;) {
      TxnRequest t;
      for (int n = 0; n < 1000 && k < keys; n++, k++) {
        t.writes.push_back(WriteOp{WriteOp::Kind::kPut, Key(k), value});
      }
      if (Result<uint64_t> r = engine->Commit(std::move(t)); !r.ok()) {
        std::fprintf(stderr, "stall_bench: building the state: %s\n", r.status().ToString().c_str());
        return 1;
      }
    }
    if (Result<uint64_t> c = engine->Checkpoint(); !c.ok()) {
      std::fprintf(stderr, "stall_bench: %s\n", c.status().ToString().c_str());
      return 1;
    }
    const uint64_t state_kib = RssKiB() - rss_empty;
    const std::string backup = dir + "/bench.bak";
    std::vector<Phase> phases;
    phases.push_back(RunPhase(engine, "quiet", keys, clients, seconds, nullptr));
    phases.push_back(RunPhase(engine, "checkpoint", keys, clients, seconds,
                              [&] { return engine->Checkpoint().status(); }));
    phases.push_back(RunPhase(engine, "full-backup", keys, clients, seconds, [&] {
      std::filesystem::remove(backup);
      return FullBackup(stone->get(), "bench", backup, nullptr).status();
    }));
    phases.push_back(RunPhase(engine, "digest", keys, clients, seconds, [&] {
      (void)engine->ComputeDigest();
      return Status::OK();
    }));
    // The same quiet load again: how far two quiet phases differ is this run's noise.
    phases.push_back(RunPhase(engine, "quiet-again", keys, clients, seconds, nullptr));
    const double quiet_p99 = std::max(1.0, (phases[0].p99_us + phases.back().p99_us) / 2);
    for (const Phase& p : phases) {
      std::printf("%-10llu %-11s %10.0f %9.0f %9.0f %10.0f %5llu %10.1f %12.1f %9.2f %9.3f\n",
                  static_cast<unsigned long long>(keys), p.name.c_str(),
                  static_cast<double>(p.commits) / p.seconds, p.p50_us, p.p99_us, p.max_us,
                  static_cast<unsigned long long>(p.ops), p.op_ms_max, p.rss_added_kib / 1024.0,
                  p.p99_us / quiet_p99,
                  static_cast<double>(p.rss_added_kib) / static_cast<double>(std::max<uint64_t>(1, state_kib)));
      j.BeginObject();
      j.Key("keys"); j.Uint(keys);
      j.Key("phase"); j.String(p.name);
      j.Key("commits_per_s"); j.Double(static_cast<double>(p.commits) / p.seconds);
      j.Key("p50_us"); j.Double(p.p50_us);
      j.Key("p99_us"); j.Double(p.p99_us);
      j.Key("max_us"); j.Double(p.max_us);
      j.Key("ops"); j.Uint(p.ops);
      j.Key("op_ms_max"); j.Double(p.op_ms_max);
      j.Key("rss_added_kib"); j.Uint(p.rss_added_kib);
      j.Key("state_kib"); j.Uint(state_kib);
      j.Key("p99_ratio"); j.Double(p.p99_us / quiet_p99);
      j.EndObject();
    }
    std::printf("%-10llu state in memory: %.1f MiB\n", static_cast<unsigned long long>(keys),
                state_kib / 1024.0);
    std::fflush(stdout);
    if (Status s = (*stone)->Close(); !s.ok()) {
      std::fprintf(stderr, "stall_bench: %s\n", s.ToString().c_str());
      return 1;
    }
    stone->reset();
  }
  j.EndArray();
  std::printf("%s\n", j.str().c_str());
  if (!json_path.empty()) {
    std::ofstream(json_path) << j.str() << "\n";
  }
  if (own_dir) {
    std::filesystem::remove_all(dir);
    std::filesystem::remove(dir + ".log");
  }
  return 0;
}
