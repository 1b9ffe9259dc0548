// Commit benchmark: durable commits/s and latency with 1/4/16/64 clients, over the
// stone's Unix socket (a StoneServer in this process, real StoneClients) and embedded
// (threads calling Engine::Commit). Each commit puts one 100-byte value at a random key.
//
//   build/bench/commit_bench [--seconds S] [--clients 1,4,16,64] [--dir DIR] [--json FILE]
//   build/bench/commit_bench --socket PATH [--seconds S] [--clients ...]
//
// With --socket it measures a running stone daemon (startstone) instead: socket mode
// only, the stone's own counters from its `info` reply.
//
// Prints a table, then the same figures as JSON. The repository lives in --dir (default
// a fresh directory under /var/tmp, so that fdatasync hits a real disk, not tmpfs).

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "client/client.h"
#include "engine/engine.h"
#include "stone/server.h"

using namespace tranship;

namespace {

struct Row {
  std::string mode;
  int clients = 0;
  uint64_t commits = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  uint64_t batches = 0;
  uint64_t tranlog_bytes = 0;
};

double Percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// Runs `clients` threads that each commit in a loop for `seconds`; `commit(t, key, value)`
// performs one durable commit and returns whether it succeeded.
// `stats` is the engine's or the info reply's counters (EngineStats or StoneStats).
template <typename StatsFn, typename CommitFn>
Row Run(const std::string& mode, int clients, double seconds, const StatsFn& stats,
        CommitFn&& commit) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<uint32_t>> lat(static_cast<size_t>(clients));
  std::vector<std::thread> ts;
  const auto before = stats();
  uint64_t t0 = MonotonicNanos();
  for (int c = 0; c < clients; c++) {
    ts.emplace_back([&, c] {
      pthread_setname_np(pthread_self(), "client");
      std::mt19937_64 rng(static_cast<uint64_t>(c) * 7919 + 1);
      std::string value(100, 'v');
      auto& l = lat[static_cast<size_t>(c)];
      l.reserve(1 << 20);
      while (!stop.load(std::memory_order_relaxed)) {
        std::string key = fmt::format("key{:012}", rng() % 10000000);
        for (size_t i = 0; i < value.size(); i += 8) value[i] = static_cast<char>('a' + rng() % 26);
        uint64_t s = MonotonicNanos();
        if (!commit(c, key, value)) {
          std::fprintf(stderr, "commit failed\n");
          std::exit(1);
        }
        l.push_back(static_cast<uint32_t>((MonotonicNanos() - s) / 1000));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured window
  stop = true;
  for (auto& t : ts) t.join();
  double elapsed = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  const auto after = stats();
  std::vector<uint32_t> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  Row r;
  r.mode = mode;
  r.clients = clients;
  r.commits = all.size();
  r.seconds = elapsed;
  r.p50_us = Percentile(all, 0.50);
  r.p99_us = Percentile(all, 0.99);
  r.max_us = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  r.batches = after.batches - before.batches;
  r.tranlog_bytes = after.tranlog_bytes - before.tranlog_bytes;
  return r;
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    out.push_back(std::stoi(s.substr(p, q - p)));
    p = q + 1;
  }
  return out;
}

void Print(const std::vector<Row>& rows, const std::string& json_path) {
  std::printf("%-9s %7s %12s %9s %9s %9s %10s %12s\n", "mode", "clients", "commits/s",
              "p50 us", "p99 us", "max us", "per batch", "bytes/commit");
  for (const Row& r : rows) {
    std::printf("%-9s %7d %12.0f %9.0f %9.0f %9.0f %10.1f %12.1f\n", r.mode.c_str(), r.clients,
                static_cast<double>(r.commits) / r.seconds, r.p50_us, r.p99_us, r.max_us,
                r.batches ? static_cast<double>(r.commits) / static_cast<double>(r.batches) : 0.0,
                r.commits ? static_cast<double>(r.tranlog_bytes) / static_cast<double>(r.commits) : 0.0);
  }
  std::string json = "[\n";
  for (size_t i = 0; i < rows.size(); i++) {
    const Row& r = rows[i];
    json += fmt::format(
        "  {{\"mode\": \"{}\", \"clients\": {}, \"commits_per_s\": {:.0f}, \"p50_us\": {:.0f}, "
        "\"p99_us\": {:.0f}, \"max_us\": {:.0f}, \"commits_per_batch\": {:.2f}, "
        "\"tranlog_bytes_per_commit\": {:.1f}}}{}\n",
        r.mode, r.clients, static_cast<double>(r.commits) / r.seconds, r.p50_us, r.p99_us,
        r.max_us, r.batches ? static_cast<double>(r.commits) / static_cast<double>(r.batches) : 0.0,
        r.commits ? static_cast<double>(r.tranlog_bytes) / static_cast<double>(r.commits) : 0.0,
        i + 1 < rows.size() ? "," : "");
  }
  json += "]\n";
  std::printf("%s", json.c_str());
  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (f) {
      std::fputs(json.c_str(), f);
      std::fclose(f);
    }
  }
}

int RunAgainstDaemon(const std::string& socket_path, const std::vector<int>& client_counts,
                     double seconds, const std::string& json_path) {
  auto info = StoneClient::Connect(socket_path, "bench");
  if (!info.ok()) {
    std::fprintf(stderr, "commit_bench: %s\n", info.status().ToString().c_str());
    return 1;
  }
  auto stats = [&]() -> StoneStats {
    auto i = (*info)->Info();
    return i.ok() ? i->stats : StoneStats{};
  };
  std::vector<Row> rows;
  for (int n : client_counts) {
    std::vector<std::unique_ptr<StoneClient>> conns;
    for (int c = 0; c < n; c++) {
      auto cl = StoneClient::Connect(socket_path, "bench");
      if (!cl.ok()) {
        std::fprintf(stderr, "connect: %s\n", cl.status().ToString().c_str());
        return 1;
      }
      conns.push_back(std::move(*cl));
    }
    rows.push_back(Run("daemon", n, seconds, stats, [&](int c, const std::string& k, const std::string& v) {
      return conns[static_cast<size_t>(c)]->Put(k, v).ok();
    }));
  }
  Print(rows, json_path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::vector<int> client_counts = {1, 4, 16, 64};
  std::string dir, json_path, socket_path;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "commit_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--clients") client_counts = ParseList(next());
    else if (a == "--dir") dir = next();
    else if (a == "--json") json_path = next();
    else if (a == "--socket") socket_path = next();
    else {
      std::fprintf(stderr,
                   "usage: commit_bench [--seconds S] [--clients 1,4,16,64] [--dir DIR | "
                   "--socket PATH] [--json FILE]\n");
      return 2;
    }
  }
  if (!socket_path.empty()) return RunAgainstDaemon(socket_path, client_counts, seconds, json_path);
  bool own_dir = dir.empty();
  if (own_dir) dir = fmt::format("/var/tmp/tranship-commit-bench-{}", getpid());
  std::filesystem::remove_all(dir);
  (void)LogInit(dir + ".log", LogLevel::kInfo);

  EngineOptions o;
  o.extent_dir = dir + "/extent";
  o.tranlog_dirs = {dir + "/tranlog"};
  o.checkpoint_interval_s = 0;
  if (Status s = Engine::Create(o); !s.ok()) {
    std::fprintf(stderr, "commit_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  auto stone = Stone::Open(o);
  if (!stone.ok()) {
    std::fprintf(stderr, "commit_bench: %s\n", stone.status().ToString().c_str());
    return 1;
  }
  Engine* engine = (*stone)->engine();

  StoneServerOptions so;
  so.name = "bench";
  so.socket_path = dir + "/bench.sock";
  so.handle_signals = false;
  StoneServer server(stone->get(), so);
  std::atomic<bool> listening{false};
  std::thread server_thread([&] {
    pthread_setname_np(pthread_self(), "stone-loop");
    Status s = server.Run([&] { listening = true; });
    if (!s.ok()) std::fprintf(stderr, "server: %s\n", s.ToString().c_str());
  });
  while (!listening) std::this_thread::yield();

  std::vector<Row> rows;
  for (int n : client_counts) {
    std::vector<std::unique_ptr<StoneClient>> conns;
    for (int c = 0; c < n; c++) {
      auto cl = StoneClient::Connect(so.socket_path, "bench");
      if (!cl.ok()) {
        std::fprintf(stderr, "connect: %s\n", cl.status().ToString().c_str());
        return 1;
      }
      conns.push_back(std::move(*cl));
    }
    rows.push_back(Run("socket", n, seconds, [&] { return engine->stats(); }, [&](int c, const std::string& k, const std::string& v) {
      return conns[static_cast<size_t>(c)]->Put(k, v).ok();
    }));
  }
  for (int n : client_counts) {
    rows.push_back(Run("embedded", n, seconds, [&] { return engine->stats(); }, [&](int, const std::string& k, const std::string& v) {
      TxnRequest t;
      t.writes.push_back(WriteOp{WriteOp::Kind::kPut, k, v});
      return engine->Commit(std::move(t)).ok();
    }));
  }
  server.RequestStop();
  server_thread.join();
  (void)engine->Close();

  Print(rows, json_path);
  if (own_dir) {
    std::filesystem::remove_all(dir);
    std::filesystem::remove(dir + ".log");
  }
  return 0;
}
