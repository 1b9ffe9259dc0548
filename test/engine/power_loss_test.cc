// Power loss under a concurrent commit load: every acknowledged commit survives, every
// transaction is whole or absent, and nothing that was never committed appears.
//
// Each iteration forks a child that opens a stone's engine through a FaultInjectionEnv,
// runs 4 writers (3 keys per transaction) and a thread that checkpoints and switches
// tranlogs at random, and cuts the power (FaultInjectionEnv::PowerCut: everything not
// fdatasync'ed is dropped at one instant, every later write fails) after a random number
// of acknowledged commits. The child records what each writer had been told and kills
// itself with SIGKILL; the parent recovers the stone with the real file system and
// checks the invariants. Small tranlogs make the load cross files.
//
// TRANSHIP_POWER_ITERATIONS sets the iterations (meson: 5 in `unit`, 500 in `chaos`);
// TRANSHIP_CHAOS_SAMPLE caps them for a brief sample; TRANSHIP_SEED replays a run.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/fault_env.h"
#include "engine/engine.h"
#include "test/test_util.h"
#include "test/trials/trial.h"

namespace tranship {
namespace {

constexpr int kWriters = 4;
constexpr int kKeysPerTxn = 3;

std::string Key(int w, uint64_t i, int k) {
  return std::to_string(w) + "/" + std::to_string(i) + "/" + std::to_string(k);
}
std::string Value(int w, uint64_t i) { return "w" + std::to_string(w) + "t" + std::to_string(i); }

EngineOptions Options(const test::TempDir& dir, uint64_t tranlog_bytes, Env* env = nullptr) {
  EngineOptions o;
  o.extent_dir = dir / "extent";
  o.tranlog_dirs = {dir / "tranlog"};
  o.tranlog_size_bytes = tranlog_bytes;
  o.checkpoint_interval_s = 0;
  o.env = env;
  return o;
}

// The child: load, cut the power after `target` acknowledgements plus `extra_us`, write
// "acked0 acked1 ..." to `acks_path` and _exit. Never returns.
[[noreturn]] void LoadAndCutPower(const EngineOptions& base, const std::string& acks_path,
                                  uint64_t target, uint64_t extra_us, uint64_t seed) {
  FaultInjectionEnv fenv(Env::Default());
  EngineOptions o = base;
  o.env = &fenv;
  auto opened = Engine::Open(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    _exit(2);
  }
  Engine* e = opened->get();
  std::array<std::atomic<uint64_t>, kWriters> acked{};
  std::atomic<uint64_t> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      for (uint64_t i = 0; !stop.load(); i++) {
        TxnRequest t;
        for (int k = 0; k < kKeysPerTxn; k++) {
          t.writes.push_back(WriteOp{WriteOp::Kind::kPut, Key(w, i, k), Value(w, i)});
        }
        if (!e->Commit(std::move(t)).ok()) return;  // the power is off
        acked[static_cast<size_t>(w)].store(i + 1);
        total.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
      if (rng() % 2 == 0) (void)e->Checkpoint();
      else (void)e->StartNewLog();
    }
  });
  // The moment of the cut is random; waiting for it is not synchronisation.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (total.load() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::microseconds(extra_us));
  Status cut = fenv.PowerCut();
  if (!cut.ok()) {
    std::fprintf(stderr, "power cut: %s\n", cut.ToString().c_str());
    _exit(3);
  }
  std::string line;
  for (int w = 0; w < kWriters; w++) line += std::to_string(acked[static_cast<size_t>(w)].load()) + " ";
  int fd = ::open(acks_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  ::fsync(fd);
  // No clean stop: the writers and the engine are left as they are, as kill -9 leaves
  // them (and no exit handler runs, so a sanitizer sees no exit with threads running).
  raise(SIGKILL);
  _exit(5);
}

void PowerLossOnce(std::mt19937_64& rng, int iteration) {
  test::TempDir dir;
  uint64_t tranlog_bytes = (64 << 10) + rng() % (192 << 10);
  EngineOptions o = Options(dir, tranlog_bytes);
  REQUIRE(Engine::Create(o).ok());
  uint64_t target = rng() % 3001;
  uint64_t extra_us = rng() % 2000;
  uint64_t child_seed = rng();
  INFO("iteration " << iteration << ": cut after " << target << " acks + " << extra_us
                    << " us, tranlogs of " << tranlog_bytes << " bytes");
  std::string acks_path = dir / "acks";
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) LoadAndCutPower(o, acks_path, target, extra_us, child_seed);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  REQUIRE_MESSAGE((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL), "child status " << st);

  std::istringstream in(test::ReadAll(acks_path));
  std::array<uint64_t, kWriters> acked{};
  for (int w = 0; w < kWriters; w++) {
    bool read = static_cast<bool>(in >> acked[static_cast<size_t>(w)]);
    REQUIRE(read);
  }

  auto opened = Engine::Open(o);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  Engine* e = opened->get();
  uint64_t present_txns = 0;
  for (int w = 0; w < kWriters; w++) {
    // A writer commits one transaction at a time, so what survives is a prefix of its
    // transactions: at least every acknowledged one, at most one more.
    uint64_t m = 0;
    while (e->Get(Key(w, m, 0)).found) {
      for (int k = 0; k < kKeysPerTxn; k++) {
        ReadResult r = e->Get(Key(w, m, k));
        INFO("writer " << w << " txn " << m << " key " << k);
        REQUIRE(r.found);  // whole, never half
        REQUIRE(r.value == Value(w, m));
      }
      m++;
    }
    INFO("writer " << w << ": acknowledged " << acked[static_cast<size_t>(w)] << ", recovered " << m);
    REQUIRE(m >= acked[static_cast<size_t>(w)]);
    REQUIRE(m <= acked[static_cast<size_t>(w)] + 1);
    for (int k = 0; k < kKeysPerTxn; k++) REQUIRE_FALSE(e->Get(Key(w, m, k)).found);
    present_txns += m;
  }
  // Nothing else exists: no invented or duplicated writes.
  CHECK(e->ComputeDigest().keys == present_txns * kKeysPerTxn);
  // The recovered stone takes commits again.
  TxnRequest t;
  t.writes.push_back(WriteOp{WriteOp::Kind::kPut, "after", "power"});
  REQUIRE(e->Commit(std::move(t)).ok());
  REQUIRE(e->Close().ok());
}

TEST_CASE("PowerLossUnderConcurrentCommitsKeepsEveryAcknowledgedCommit") {
  uint64_t iterations = test::TrialIterations("TRANSHIP_POWER_ITERATIONS", 5);
  std::mt19937_64 rng = test::TrialRng("power-loss trial", iterations);
  for (uint64_t i = 0; i < iterations; i++) PowerLossOnce(rng, static_cast<int>(i));
}

}  // namespace
}  // namespace tranship
