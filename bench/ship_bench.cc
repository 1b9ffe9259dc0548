// Shipping benchmark: how fast a logsender moves tranlog to its logreceivers, with and
// without TLS, to 1 and 5 receivers, and how fast a receiver far behind catches up.
//
//   build/bench/ship_bench [--mb N] [--catchup-mb N] [--dir DIR] [--tranship PATH]
//                          [--certs DIR] [--json FILE] [--keep] [--only RUN]
//                          [--zstd-level L]
//
// It writes a tranlog history of N MB (commit records of 3 puts each, ~190 bytes, like
// the workload tool's) with the tranlog writer, then for each configuration starts a
// real logsender (no stone running: it serves what is durable on disk) and K real
// logreceivers with empty archives over loopback, and times until every archive is
// complete. The sender's and receivers' CPU times come from /proc. The compression ratio is that of
// zstd level 1 on the same 1 MiB frames the sender builds.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "tranlog/writer.h"
#include "tranlog/commit.h"
#include "wire/batch.h"

using namespace tranship;
namespace fs = std::filesystem;

namespace {

struct Options {
  uint64_t mb = 256;
  uint64_t catchup_mb = 1024;
  std::string dir;
  std::string tranship;
  std::string certs;
  std::string json;
  bool keep = false;  // leave the histories in --dir (for profiling with perf)
  std::string only;   // one run by its name (plain-1 ... catchup-tls); empty: all
  std::string zstd_level;  // passed to the logsender (--zstd-level); empty: its default
};

// Writes about `mb` MB of tranlogs (100 MB files) into `dir`; returns the record count.
uint64_t MakeHistory(const std::string& dir, uint64_t mb) {
  fs::create_directories(dir);
  tranlog::WriterOptions o{Env::Default(), {dir}, "tranlog", 100ull << 20};
  auto w = tranlog::Writer::CreateFile(o, Lineage::Random(), 1, 1, 0);
  if (!w.ok()) {
    std::fprintf(stderr, "ship_bench: %s\n", w.status().ToString().c_str());
    std::exit(1);
  }
  std::mt19937_64 rng(42);
  uint64_t records = 0;
  std::string payload;
  uint64_t target = mb << 20;
  while ((*w)->bytes_written() < target) {
    for (int b = 0; b < 4096; b++) {
      std::vector<WriteOp> ops;
      uint64_t writer = rng() % 16, i = records;
      for (int k = 0; k < 3; k++) {
        ops.push_back(WriteOp{WriteOp::Kind::kPut, fmt::format("wl/{}/{}/{}", writer, i, k),
                              fmt::format("w{}t{}-{:016x}", writer, i, rng())});
      }
      payload.clear();
      EncodeCommitPayload(ops, &payload);
      (*w)->Add(tranlog::RecordType::kCommit, 0, NowMicros(), AsBytes(payload));
      records++;
    }
    if (!(*w)->Flush().ok()) std::exit(1);
    if ((*w)->NeedsRotation() && !(*w)->Rotate(NowMicros()).ok()) std::exit(1);
  }
  if (!(*w)->Flush().ok() || !(*w)->Close().ok()) std::exit(1);
  return records;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".dbf") n += e.file_size(ec);
  }
  return n;
}

double CpuSeconds(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::string cur;
  for (size_t i = p + 2; i < s.size(); i++) {
    if (s[i] == ' ') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  if (fields.size() < 13) return 0;
  return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

pid_t Spawn(const Options& o, const std::string& home, const std::string& argv0,
            const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("TRANSHIP_HOME", home.c_str(), 1);
    FILE* f = std::fopen(log.c_str(), "w");
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
    std::vector<std::string> all = {argv0};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(o.tranship.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

struct RunFigures {
  std::string name;
  int receivers = 0;
  bool tls = false;
  double seconds = 0;
  double mb_per_s = 0;
  double records_per_s = 0;
  double sender_cpu_s = 0;
  double sender_cpu_s_per_gb = 0;
  double receiver_cpu_s_per_gb = 0;  // per receiver
  uint64_t frames_built = 0;  // by the sender: fewer than sent when shared, more if rebuilt
  uint64_t frames_sent = 0;
};

// "frames_built" and "frames_sent" from the logsender's status file (written each second).
std::pair<uint64_t, uint64_t> FrameCounts(const std::string& run_dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(run_dir, ec)) {
    std::ifstream f(e.path());
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto num = [&](const std::string& key) -> uint64_t {
      size_t p = s.find("\"" + key + "\":");
      return p == std::string::npos ? 0 : std::stoull(s.substr(p + key.size() + 3));
    };
    if (s.find("\"frames_built\"") != std::string::npos) {
      uint64_t built = num("frames_built");
      return {built, num("frames_sent")};
    }
  }
  return {0, 0};
}

RunFigures RunOne(const Options& o, const std::string& name, const std::string& history,
              uint64_t records, int receivers, bool tls, int port) {
  std::string base = fmt::format("{}/{}", o.dir, name);
  fs::remove_all(base);
  fs::create_directories(base + "/primary");
  std::vector<std::string> tls_sender, tls_receiver;
  if (tls) {
    tls_sender = {"-S", "-J", o.certs + "/ca.pem", "-C", o.certs + "/server.pem", "-K",
                  o.certs + "/server.key"};
    tls_receiver = {"-S", "-J", o.certs + "/ca.pem", "-C", o.certs + "/client.pem", "-K",
                    o.certs + "/client.key"};
  }
  std::vector<std::string> sargs = {"-P", std::to_string(port), "-A", "127.0.0.1", "-T", history,
                                    "-s", "bench", "--foreground", "-q"};
  sargs.insert(sargs.end(), tls_sender.begin(), tls_sender.end());
  if (!o.zstd_level.empty()) {
    sargs.push_back("--zstd-level");
    sargs.push_back(o.zstd_level);
  }
  // The logsender ships a stone's tranlogs; the stone itself need not run (the sender
  // then serves what is durable on disk), but it must exist.
  pid_t create = Spawn(o, base + "/primary", "tranship", {"stone", "create", "bench"},
                       base + "/create.out");
  waitpid(create, nullptr, 0);
  pid_t sender = Spawn(o, base + "/primary", "startlogsender", sargs, base + "/sender.out");
  uint64_t total = DirBytes(history);
  double cpu0 = CpuSeconds(sender);
  uint64_t t0 = MonotonicNanos();
  std::vector<pid_t> rs;
  for (int i = 0; i < receivers; i++) {
    std::string home = fmt::format("{}/standby{}", base, i);
    fs::create_directories(home + "/archive");
    std::vector<std::string> rargs = {"-P", std::to_string(port), "-A", "127.0.0.1", "-T",
                                      home + "/archive", "-s", "standby", "--foreground", "-q",
                                      "--from-start"};
    rargs.insert(rargs.end(), tls_receiver.begin(), tls_receiver.end());
    rs.push_back(Spawn(o, home, "startlogreceiver", rargs, home + "/receiver.out"));
  }
  uint64_t deadline = t0 + 600ull * 1000000000u;
  while (MonotonicNanos() < deadline) {
    bool done = true;
    for (int i = 0; i < receivers; i++) {
      if (DirBytes(fmt::format("{}/standby{}/archive", base, i)) < total) done = false;
    }
    if (done) break;
    int st;
    if (waitpid(sender, &st, WNOHANG) == sender) {
      std::fprintf(stderr, "ship_bench: the logsender exited; see %s/sender.out\n", base.c_str());
      std::exit(1);
    }
    usleep(2000);  // polling the archives' sizes; the measured work is in other processes
  }
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  double cpu = CpuSeconds(sender) - cpu0;
  double rcpu = 0;
  for (pid_t p : rs) rcpu += CpuSeconds(p);
  usleep(1100 * 1000);  // the status file is rewritten every second
  auto [built, sent] = FrameCounts(base + "/primary/run");
  for (pid_t p : rs) kill(p, SIGTERM);
  kill(sender, SIGTERM);
  for (pid_t p : rs) waitpid(p, nullptr, 0);
  waitpid(sender, nullptr, 0);
  fs::remove_all(base);
  RunFigures r;
  r.name = name;
  r.receivers = receivers;
  r.tls = tls;
  r.seconds = secs;
  r.mb_per_s = static_cast<double>(total) / (1 << 20) / secs;
  r.records_per_s = static_cast<double>(records) / secs;
  r.sender_cpu_s = cpu;
  r.sender_cpu_s_per_gb = cpu / (static_cast<double>(total) / (1 << 30));
  r.frames_built = built;
  r.frames_sent = sent;
  r.receiver_cpu_s_per_gb = rcpu / receivers / (static_cast<double>(total) / (1 << 30));
  return r;
}

// What this machine's disk and page cache allow a receiver: one thread writing `mb` MB
// into a new file, 1 MiB at a time with writeback started after each, then fdatasync,
// as the logreceiver's archive writes a catch-up. A catch-up cannot go faster.
Result<double> WriteCeilingMbPerS(const std::string& dir, uint64_t mb) {
  std::string path = dir + "/write-ceiling";
  auto f = Env::Default()->NewWritableFile(path, true);
  if (!f.ok()) return f.status();
  std::string block(1u << 20, '\0');
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= block.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&block[i], &v, 8);
  }
  uint64_t t0 = MonotonicNanos();
  Status s;
  for (uint64_t i = 0; i < mb && s.ok(); i++) {
    s = (*f)->Append(AsBytes(block));
    (*f)->StartWriteback();
  }
  if (s.ok()) s = (*f)->Sync();
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  (void)(*f)->Close();
  fs::remove(path);  // also after a failure: a full disk gets its space back
  if (!s.ok()) return s;
  return static_cast<double>(mb) * (1 << 20) / 1e6 / secs;
}

double CompressionRatio(const std::string& history) {
  wire::Compressor c(1);
  std::string raw, out;
  uint64_t in = 0, outn = 0;
  for (auto& e : fs::directory_iterator(history)) {
    std::ifstream f(e.path(), std::ios::binary);
    raw.resize(1 << 20);
    for (int i = 0; i < 16 && f.read(raw.data(), static_cast<std::streamsize>(raw.size())); i++) {
      if (!c.Compress(raw, &out).ok()) return 0;
      in += raw.size();
      outn += out.size();
    }
    break;
  }
  return outn ? static_cast<double>(in) / static_cast<double>(outn) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ship_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--mb") o.mb = std::stoull(next());
    else if (a == "--catchup-mb") o.catchup_mb = std::stoull(next());
    else if (a == "--dir") o.dir = next();
    else if (a == "--tranship") o.tranship = next();
    else if (a == "--certs") o.certs = next();
    else if (a == "--json") o.json = next();
    else if (a == "--keep") o.keep = true;
    else if (a == "--only") o.only = next();
    else if (a == "--zstd-level") o.zstd_level = next();
    else {
      std::fprintf(stderr,
                   "usage: ship_bench [--mb N] [--catchup-mb N] [--dir DIR] [--tranship PATH] "
                   "[--certs DIR] [--json FILE] [--keep] [--only RUN] [--zstd-level L]\n");
      return 2;
    }
  }
  std::string self = fs::canonical("/proc/self/exe").string();
  std::string root = fs::path(self).parent_path().parent_path().string();
  if (o.tranship.empty()) o.tranship = root + "/cli/tranship";
  if (o.dir.empty()) o.dir = fmt::format("/var/tmp/tranship-ship-bench-{}", getpid());
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  if (o.certs.empty()) {
    o.certs = o.dir + "/certs";
    std::string script = fs::path(self).parent_path().parent_path().parent_path().string() +
                         "/certs/make-certs.sh";
    std::string cmd = fmt::format("{} {} bench >/dev/null 2>&1", script, o.certs);
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "ship_bench: %s failed; pass --certs DIR\n", cmd.c_str());
      return 1;
    }
  }

  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::vector<std::string> runs = {"plain-1", "plain-5", "tls-1", "tls-5", "catchup-tls"};
  if (!o.only.empty() && std::find(runs.begin(), runs.end(), o.only) == runs.end()) {
    std::fprintf(stderr, "ship_bench: --only %s: no such run (plain-1, plain-5, tls-1, tls-5, "
                 "catchup-tls)\n", o.only.c_str());
    return 2;
  }
  auto wanted = [&](const std::string& name) { return o.only.empty() || o.only == name; };
  std::vector<RunFigures> results;
  int port = 47000 + getpid() % 1000;
  double ratio = 0;
  double ceiling = 0;  // MB/s of one thread writing a new file (catch-up run only)
  if (o.only.empty() || o.only != "catchup-tls") {
    std::printf("writing %llu MB of tranlog...\n", static_cast<unsigned long long>(o.mb));
    std::string small = o.dir + "/history";
    uint64_t small_records = MakeHistory(small, o.mb);
    ratio = CompressionRatio(small);
    for (bool tls : {false, true}) {
      for (int k : {1, 5}) {
        std::string name = fmt::format("{}-{}", tls ? "tls" : "plain", k);
        if (!wanted(name)) continue;
        std::printf("%s...\n", name.c_str());
        results.push_back(RunOne(o, name, small, small_records, k, tls, port++));
      }
    }
    if (!o.keep) fs::remove_all(small);
  }
  if (wanted("catchup-tls")) {
    std::printf("writing %llu MB of tranlog for catch-up...\n",
                static_cast<unsigned long long>(o.catchup_mb));
    std::string big = o.dir + "/history-big";
    uint64_t big_records = MakeHistory(big, o.catchup_mb);
    if (ratio == 0) ratio = CompressionRatio(big);
    Result<double> c = WriteCeilingMbPerS(o.dir, o.catchup_mb);
    if (c.ok()) {
      ceiling = *c;
    } else {
      std::fprintf(stderr, "ship_bench: cannot measure the write ceiling: %s\n",
                   c.status().ToString().c_str());
    }
    results.push_back(RunOne(o, "catchup-tls", big, big_records, 1, true, port++));
    if (!o.keep) fs::remove_all(big);
  }

  std::printf("\n%-12s %9s %5s %9s %12s %14s %14s %16s %15s\n", "run", "receivers", "tls",
              "MB/s", "records/s", "sender CPU s", "CPU s per GB", "receiver s/GB",
              "frames built/sent");
  for (const RunFigures& r : results) {
    std::printf("%-12s %9d %5s %9.0f %12.0f %14.2f %14.2f %16.2f %9llu/%llu\n", r.name.c_str(),
                r.receivers, r.tls ? "yes" : "no", r.mb_per_s, r.records_per_s, r.sender_cpu_s,
                r.sender_cpu_s_per_gb, r.receiver_cpu_s_per_gb,
                static_cast<unsigned long long>(r.frames_built),
                static_cast<unsigned long long>(r.frames_sent));
  }
  std::printf("zstd level 1 compression ratio on 1 MiB frames: %.2f\n", ratio);
  if (ceiling > 0) {
    std::printf("write ceiling: %.0f MB/s (one thread writing %llu MB into a new file in %s "
                "and syncing it, as a receiver's archive does)\n",
                ceiling, static_cast<unsigned long long>(o.catchup_mb), o.dir.c_str());
  }
  std::string json = "{\"compression_ratio\": " + fmt::format("{:.2f}", ratio) +
                     (ceiling > 0 ? fmt::format(", \"write_ceiling_mb_per_s\": {:.0f}", ceiling)
                                  : std::string()) +
                     ", \"runs\": [\n";
  for (size_t i = 0; i < results.size(); i++) {
    const RunFigures& r = results[i];
    json += fmt::format(
        "  {{\"run\": \"{}\", \"receivers\": {}, \"tls\": {}, \"mb_per_s\": {:.1f}, "
        "\"records_per_s\": {:.0f}, \"sender_cpu_s\": {:.2f}, \"sender_cpu_s_per_gb\": {:.2f}, "
        "\"receiver_cpu_s_per_gb\": {:.2f}}}{}\n",
        r.name, r.receivers, r.tls, r.mb_per_s, r.records_per_s, r.sender_cpu_s,
        r.sender_cpu_s_per_gb, r.receiver_cpu_s_per_gb, i + 1 < results.size() ? "," : "");
  }
  json += "]}\n";
  std::printf("%s", json.c_str());
  if (!o.json.empty()) std::ofstream(o.json) << json;
  if (!o.keep) fs::remove_all(o.dir);
  return 0;
}
