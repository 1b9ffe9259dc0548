// Restore apply rate: how fast a standby replays archived tranlogs, against how fast the
// primary can commit, on the same machine.
//
//   build/bench/restore_bench [--records N] [--seconds S] [--dir DIR]
//
// 1. The primary's maximum commit rate: 64 threads committing embedded for S seconds
//    (3 puts of ~20-byte values per transaction, like the workload tool).
// 2. Those tranlogs become the archive of a standby created in restore mode at TID 0;
//    the standby replays them with the same code as restore-from-archive-logs and
//    continuous restore (ArchiveReplayer, batches of 4096 records).
// The target is an apply rate of at least 3x the commit rate.

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/engine.h"
#include "stone/stone.h"
#include "restore/archive.h"

using namespace tranship;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  double seconds = 5;
  std::string dir;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: restore_bench [--seconds S] [--dir DIR]\n");
      return 2;
    }
  }
  if (dir.empty()) dir = fmt::format("/var/tmp/tranship-restore-bench-{}", getpid());
  fs::remove_all(dir);
  (void)LogInit(dir + ".log", LogLevel::kWarn);

  // 1. The primary commits as fast as it can.
  EngineOptions p;
  p.extent_dir = dir + "/primary/extent";
  p.tranlog_dirs = {dir + "/primary/tranlog"};
  p.checkpoint_interval_s = 0;
  if (Status s = Engine::Create(p); !s.ok()) {
    std::fprintf(stderr, "restore_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  auto primary = Engine::Open(p);
  if (!primary.ok()) return 1;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0};
  std::vector<std::thread> ts;
  uint64_t t0 = MonotonicNanos();
  for (int t = 0; t < 64; t++) {
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); i++) {
        TxnRequest txn;
        for (int k = 0; k < 3; k++) {
          txn.writes.push_back(WriteOp{WriteOp::Kind::kPut, fmt::format("wl/{}/{}/{}", t, i, k),
                                       fmt::format("w{}t{}", t, i)});
        }
        if ((*primary)->Commit(std::move(txn)).ok()) commits++;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured window
  stop = true;
  for (auto& t : ts) t.join();
  double commit_s = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  double commit_rate = static_cast<double>(commits) / commit_s;
  DurableEnd end = (*primary)->durable_end();
  std::string primary_digest = (*primary)->ComputeDigest().sha256_hex;
  (void)(*primary)->Close();
  primary->reset();

  // 2. A standby at TID 0 replays the primary's tranlogs as its archive.
  EngineOptions s;
  s.extent_dir = dir + "/standby/extent";
  s.tranlog_dirs = {dir + "/standby/tranlog"};
  s.checkpoint_interval_s = 0;
  RestoredPosition start;
  start.pos = Position{1, tranlog::kFileHeaderSize};
  if (Status st = Engine::CreateRestoring(s, StateMap(), start, false); !st.ok()) {
    std::fprintf(stderr, "restore_bench: %s\n", st.ToString().c_str());
    return 1;
  }
  auto standby = Stone::Open(s);
  if (!standby.ok()) {
    std::fprintf(stderr, "restore_bench: %s\n", standby.status().ToString().c_str());
    return 1;
  }
  ArchiveReplayer replayer(standby->get(), Env::Default(),
                           ArchiveSource{{dir + "/primary/tranlog"}, "tranlog"});
  uint64_t r0 = MonotonicNanos();
  while (replayer.Next(4096) == ArchiveReplayer::Step::kProgress) {
  }
  double apply_s = static_cast<double>(MonotonicNanos() - r0) / 1e9;
  uint64_t records = replayer.applied() + replayer.skipped();
  double apply_rate = static_cast<double>(records) / apply_s;
  bool equal = (*standby)->engine()->ComputeDigest().sha256_hex == primary_digest;

  std::printf("primary: %llu commits in %.2f s = %.0f commits/s (64 embedded clients)\n",
              static_cast<unsigned long long>(commits.load()), commit_s, commit_rate);
  std::printf("standby: %llu records (to TID %llu) replayed in %.3f s = %.0f records/s\n",
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(end.tid),
              apply_s, apply_rate);
  std::printf("apply rate / commit rate = %.1fx (target >= 3x); digests %s\n",
              apply_rate / commit_rate, equal ? "equal" : "DIFFER");
  std::printf("{\"commit_per_s\": %.0f, \"apply_records_per_s\": %.0f, \"ratio\": %.2f, "
              "\"digest_equal\": %s}\n",
              commit_rate, apply_rate, apply_rate / commit_rate, equal ? "true" : "false");
  (void)(*standby)->Close();
  standby->reset();
  fs::remove_all(dir);
  fs::remove(dir + ".log");
  return equal ? 0 : 1;
}
