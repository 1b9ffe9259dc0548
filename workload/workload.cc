// The load generator and its check (workload/workload.h).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "home/connect.h"
#include "home/stone_state.h"
#include "workload/workload.h"

namespace tranship::workload {
namespace {

using home::ConnectStone;
using home::Home;

std::string Key(const std::string& prefix, uint64_t w, uint64_t i, uint64_t k) {
  return fmt::format("{}/{}/{}/{}", prefix, w, i, k);
}
std::string Value(uint64_t w, uint64_t i) { return fmt::format("w{}t{}", w, i); }

struct Shared {
  std::atomic<uint64_t> commits{0};
  std::atomic<int> running{0};
  std::mutex mu;
  std::vector<std::string> errors;  // guarded by mu
};

void WriterLoop(const Home& home, const std::string& name, const std::string& prefix,
                uint64_t w, uint64_t count,
                uint64_t keys, uint64_t deadline_ns, int ack_fd, Shared* shared) {
  auto fail = [&](const Status& s) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->errors.push_back(fmt::format("writer {}: {}", w, s.message()));
  };
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(home, name);
  if (!client.ok()) return fail(client.status());
  for (uint64_t i = 0; i < count; i++) {
    if (deadline_ns != 0 && MonotonicNanos() > deadline_ns) break;
    TxnRequest txn;
    for (uint64_t k = 0; k < keys; k++) {
      txn.writes.push_back({WriteOp::Kind::kPut, Key(prefix, w, i, k), Value(w, i)});
    }
    Result<uint64_t> tid = (*client)->Commit(txn);
    if (!tid.ok()) return fail(tid.status());
    shared->commits.fetch_add(1);
    if (ack_fd >= 0) {
      std::string line = fmt::format("{} {}\n", w, i);
      if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        return fail(Status::IOError("cannot append to the ack log"));
      }
    }
  }
}

void Writer(const Home& home, const std::string& name, const std::string& prefix,
            uint64_t w, uint64_t count,
            uint64_t keys, uint64_t deadline_ns, int ack_fd, Shared* shared) {
  WriterLoop(home, name, prefix, w, count, keys, deadline_ns, ack_fd, shared);
  shared->running.fetch_sub(1);
}

// Commit -> visible on each standby, sampled every 10 ms while the writers run.
struct LagSampler {
  std::vector<std::string> sockets;
  std::vector<std::vector<double>> ms;  // per standby
  std::vector<double> commit_ms;        // the sampler's own commits on the primary
  std::string error;

  void Run(const Home& home, const std::string& name, const std::string& prefix,
           const std::atomic<int>* running) {
    Result<std::unique_ptr<StoneClient>> primary = ConnectStone(home, name);
    if (!primary.ok()) {
      error = primary.status().message();
      return;
    }
    std::vector<std::unique_ptr<StoneClient>> standbys;
    for (const std::string& path : sockets) {
      auto c = StoneClient::Connect(path, std::filesystem::path(path).stem().string());
      if (!c.ok()) {
        error = c.status().message();
        return;
      }
      standbys.push_back(std::move(*c));
    }
    ms.resize(standbys.size());
    // At least one sample, even if the writers are done before the sampler connected.
    for (uint64_t n = 0; n == 0 || running->load() > 0; n++) {
      std::string key = fmt::format("{}-lag/{}", prefix, n);
      uint64_t t0 = MonotonicNanos();
      if (Result<uint64_t> tid = (*primary)->Put(key, "x"); !tid.ok()) {
        if (n == 0 || running->load() > 0) error = tid.status().message();
        return;
      }
      // A slow sample whose commit was slow stalled on the primary, before shipping.
      commit_ms.push_back(static_cast<double>(MonotonicNanos() - t0) / 1e6);
      // Every standby is read in each round, so that each figure is its own.
      std::vector<bool> seen(standbys.size(), false);
      for (size_t left = standbys.size(); left > 0;) {
        for (size_t i = 0; i < standbys.size(); i++) {
          if (seen[i]) continue;
          Result<ReadResult> r = standbys[i]->Get(key);
          if (!r.ok()) {
            error = r.status().message();
            return;
          }
          if (!r->found) continue;
          seen[i] = true;
          left--;
          ms[i].push_back(static_cast<double>(MonotonicNanos() - t0) / 1e6);
        }
        if (left == 0) break;
        if (MonotonicNanos() - t0 > 10'000'000'000ull) {
          for (size_t i = 0; i < standbys.size(); i++) {
            if (!seen[i]) error = fmt::format("{} was not visible on {} after 10 s", key, sockets[i]);
          }
          return;
        }
        usleep(50);
      }
      usleep(10 * 1000);
    }
  }

  void Print() {
    if (!commit_ms.empty()) {
      std::vector<double>& v = commit_ms;
      std::sort(v.begin(), v.end());
      fmt::print("workload: the lag sampler's commits on the primary: p50 {:.2f} ms, p99 {:.2f} "
                 "ms, max {:.2f} ms\n",
                 v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back());
    }
    for (size_t i = 0; i < ms.size(); i++) {
      std::vector<double>& v = ms[i];
      if (v.empty()) continue;
      std::sort(v.begin(), v.end());
      fmt::print("workload: commit -> visible on {}: p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms "
                 "({} samples)\n",
                 std::filesystem::path(sockets[i]).stem().string(), v[v.size() / 2],
                 v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back(), v.size());
    }
  }
};

}  // namespace

Status RunWorkload(const Home& home, const WorkloadOptions& o) {
  const std::string& name = o.stone;
  TRANSHIP_RETURN_IF_ERROR(home::RequireRunning(home, name));
  int ack_fd = -1;
  const std::string& ack_log = o.ack_log;
  if (!ack_log.empty()) {
    ack_fd = ::open(ack_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (ack_fd < 0) return Status::FromErrno(errno, "open " + ack_log);
    std::string header = fmt::format("writers {}\n", o.writers);
    if (write(ack_fd, header.data(), header.size()) < 0) {
      return Status::FromErrno(errno, "write " + ack_log);
    }
  }
  uint64_t start = MonotonicNanos();
  uint64_t deadline = o.seconds == 0 ? 0 : start + o.seconds * 1000000000u;
  Shared shared;
  std::vector<std::thread> threads;
  for (uint64_t w = 0; w < o.writers; w++) {
    uint64_t count = o.transactions / o.writers + (w < o.transactions % o.writers ? 1 : 0);
    if (o.until_deadline) count = UINT64_MAX;
    shared.running.fetch_add(1);
    threads.emplace_back(Writer, std::cref(home), name, o.key_prefix, w, count, o.keys_per_txn,
                         deadline, ack_fd, &shared);
  }
  LagSampler sampler;
  std::thread sampler_thread;
  if (o.visible_on) {
    sampler.sockets = *o.visible_on;
    sampler_thread = std::thread([&] { sampler.Run(home, name, o.key_prefix, &shared.running); });
  }
  bool tty = isatty(2) == 1;
  // On a terminal, refresh a progress line until every writer has returned.
  while (tty && shared.running.load() > 0) {
    double secs = static_cast<double>(MonotonicNanos() - start) / 1e9;
    fmt::print(stderr, "\r{} commits, {:.0f} commits/s\x1b[K", shared.commits.load(),
               secs > 0 ? static_cast<double>(shared.commits.load()) / secs : 0.0);
    std::fflush(stderr);
    usleep(200 * 1000);
  }
  for (std::thread& t : threads) t.join();
  if (sampler_thread.joinable()) sampler_thread.join();
  if (ack_fd >= 0) ::close(ack_fd);
  double secs = static_cast<double>(MonotonicNanos() - start) / 1e9;
  uint64_t commits = shared.commits.load();
  if (tty) fmt::print(stderr, "\n");
  fmt::print("workload: {} acknowledged commits by {} writers in {:.1f} s ({:.0f} commits/s)\n",
             commits, o.writers, secs, secs > 0 ? static_cast<double>(commits) / secs : 0.0);
  sampler.Print();
  if (!sampler.error.empty()) {
    return Status::Aborted("workload: measuring the lag: " + sampler.error);
  }
  if (!shared.errors.empty()) {
    return Status::Aborted(fmt::format("workload: {} of {} writers stopped early; first: {}",
                                       shared.errors.size(), o.writers, shared.errors.front()));
  }
  return Status::OK();
}

Status CheckWorkload(const Home& home, const WorkloadOptions& o) {
  const std::string& name = o.stone;
  const std::string& path = o.check;
  const std::string& prefix = o.key_prefix;
  Result<std::string> text = ReadFileToString(Env::Default(), path);
  if (!text.ok()) return text.status();
  std::istringstream in(*text);
  std::string word;
  uint64_t writers = 0;
  if (!(in >> word >> writers) || word != "writers") {
    return Status::Corruption(path + " is not a workload ack log");
  }
  std::map<uint64_t, uint64_t> acked;  // writer -> acknowledged transactions
  uint64_t w, i, total = 0;
  while (in >> w >> i) {
    // Each writer acknowledges in order, so its i-th ack line is transaction i.
    if (w >= writers || i != acked[w]) {
      return Status::Corruption(fmt::format("{}: unexpected ack '{} {}'", path, w, i));
    }
    acked[w]++;
    total++;
  }
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(home, name);
  if (!client.ok()) return client.status();
  // How many keys of transaction (w, i) hold its value; *absent names one that does not.
  std::string absent;
  auto present = [&](uint64_t w, uint64_t i, uint64_t nkeys) -> Result<uint64_t> {
    uint64_t n = 0;
    for (uint64_t k = 0; k < nkeys; k++) {
      Result<ReadResult> r = (*client)->Get(Key(prefix, w, i, k));
      if (!r.ok()) return r.status();
      if (r->found && r->value == Value(w, i)) {
        n++;
      } else {
        absent = Key(prefix, w, i, k);
      }
    }
    return n;
  };
  uint64_t in_flight_committed = 0;
  for (uint64_t w = 0; w < writers; w++) {
    uint64_t a = acked[w];
    for (uint64_t i = 0; i <= a; i++) {
      Result<uint64_t> n = present(w, i, o.keys_per_txn);
      if (!n.ok()) return n.status();
      if (i < a && *n != o.keys_per_txn) {
        return Status::Corruption(fmt::format(
            "check: acknowledged transaction {} of writer {} is missing {} of its {} keys "
            "(e.g. {})", i, w, o.keys_per_txn - *n, o.keys_per_txn, absent));
      }
      if (i == a && *n != 0 && *n != o.keys_per_txn) {
        return Status::Corruption(fmt::format(
            "check: transaction {} of writer {} is half-applied: {} of its {} keys present",
            i, w, *n, o.keys_per_txn));
      }
      if (i == a && *n == o.keys_per_txn) in_flight_committed++;
    }
    Result<uint64_t> beyond = present(w, a + 1, 1);
    if (!beyond.ok()) return beyond.status();
    if (*beyond != 0) {
      return Status::Corruption(fmt::format(
          "check: transaction {} of writer {} exists but was never sent", a + 1, w));
    }
  }
  fmt::print("check: all {} acknowledged transactions of {} writers are present; {} "
             "unacknowledged in-flight transactions committed whole; none half-applied.\n",
             total, writers, in_flight_committed);
  return Status::OK();
}

}  // namespace tranship::workload
