#include "failover/steps.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/process.h"
#include "daemon/launch.h"
#include "daemon/run_files.h"
#include "home/connect.h"

namespace tranship::failover {

using daemon::ProcessDescription;
using daemon::ReadPidFiles;
using daemon::StopDaemonProcess;
using home::ConnectStone;
using home::ValidateStoneName;
namespace {

std::string Canonical(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(path), ec);
  return ec ? path : p.string();
}

// Single quotes for a shell, only when needed.
std::string ShellWord(const std::string& s) {
  if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") ==
      std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string StoneRef::Command(const std::string& args) const {
  return other_home ? fmt::format("TRANSHIP_HOME={} tranship {}", ShellWord(home.root()), args)
                    : fmt::format("tranship {}", args);
}

std::string StoneRef::Label() const {
  return other_home ? fmt::format("{} ({})", name, home.root()) : name;
}

Result<std::unique_ptr<StoneClient>> StoneRef::Connect() const {
  Result<std::unique_ptr<StoneClient>> c = ConnectStone(home, name);
  if (!c.ok() && other_home) {
    std::string msg = fmt::format("{} (TRANSHIP_HOME={})", c.status().message(), home.root());
    return c.status().IsNotFound() ? Status::NotFound(msg) : Status::Busy(msg);
  }
  return c;
}

Result<std::string> StoneRef::Admin(const std::string& verb,
                                    const std::vector<std::string>& args) const {
  auto c = Connect();
  if (!c.ok()) return c.status();
  return (*c)->Admin(verb, args);
}

Result<StoneInfo> StoneRef::Info() const {
  auto c = Connect();
  if (!c.ok()) return c.status();
  return (*c)->Info();
}

Result<JsonValue> StoneRef::RestoreStatus() const {
  Result<std::string> text = Admin("restore-status", {"--json"});
  if (!text.ok()) return text.status();
  return ParseJson(*text);
}

Result<std::string> StoneRef::Digest() const { return Admin("digest"); }

Result<StoneRef> ParseStoneRef(const std::string& option, const std::string& spec,
                               const Home& current) {
  size_t colon = spec.rfind(':');
  std::string root = colon == std::string::npos ? current.root() : spec.substr(0, colon);
  std::string name = colon == std::string::npos ? spec : spec.substr(colon + 1);
  if (root.empty() || name.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{} takes HOME:STONE (a TRANSHIP_HOME and a stone of it) or STONE, not '{}'", option,
        spec));
  }
  TRANSHIP_RETURN_IF_ERROR(ValidateStoneName(name));
  std::string canonical = Canonical(root);
  StoneRef ref{Home(canonical), name, canonical != Canonical(current.root())};
  if (!ref.home.StoneExists(name)) {
    return Status::NotFound(fmt::format(
        "{} {}: the stone '{}' does not exist in {}. To fix this name a stone of that home "
        "(its etc/conf.d/{}.conf)",
        option, spec, name, ref.home.root(), name));
  }
  return ref;
}

std::string FormatDuration(uint64_t ns) {
  double ms = static_cast<double>(ns) / 1e6;
  return ms < 1000 ? fmt::format("{:.1f} ms", ms) : fmt::format("{:.2f} s", ms / 1000);
}

Steps::Steps() : tty_(isatty(STDOUT_FILENO) == 1) {}

Result<std::string> Steps::Run(const std::string& title,
                               const std::function<Result<std::string>(const Progress&)>& fn) {
  fmt::print("  {} ... ", title);
  std::fflush(stdout);
  uint64_t start = MonotonicNanos();
  uint64_t last_draw = 0;
  Progress progress = [&](const std::string& line) {
    if (!tty_ || MonotonicNanos() - last_draw < 100'000'000) return;
    last_draw = MonotonicNanos();
    fmt::print("\r\x1b[K  {} ... {} ({})", title, line, FormatDuration(last_draw - start));
    std::fflush(stdout);
  };
  Result<std::string> r = fn(progress);
  std::string took = FormatDuration(MonotonicNanos() - start);
  if (tty_ && last_draw != 0) fmt::print("\r\x1b[K  {} ... ", title);
  if (r.ok()) {
    fmt::print("{}{}\n", took, r->empty() ? "" : "  " + *r);
  } else {
    fmt::print("failed after {}\n", took);
  }
  std::fflush(stdout);
  return r;
}

void Steps::Skip(const std::string& title, const std::string& why) {
  fmt::print("  {} ... skipped: {}\n", title, why);
  std::fflush(stdout);
}

Result<std::string> ProbeWrite(const StoneRef& stone, const std::string& key,
                               const std::string& why) {
  auto c = stone.Connect();
  if (!c.ok()) return c.status();
  Result<uint64_t> tid = (*c)->Put(key, fmt::format("{} at {}", why, FormatUtc(NowMicros())));
  if (!tid.ok()) return tid.status();
  return fmt::format("'{}' committed at TID {}", key, *tid);
}

Result<std::string> ProbeStep(Steps& steps, const StoneRef& stone, const std::string& key,
                              const std::string& why, uint64_t* accepting) {
  if (key.empty()) {
    return std::string("to commit-restore returning (no probe write; --probe-key KEY makes one)");
  }
  Result<std::string> r = steps.Run(fmt::format("probe write on {}", stone.name),
                                    [&](const Steps::Progress&) {
                                      return ProbeWrite(stone, key, why);
                                    });
  if (!r.ok()) {
    return Status::Busy(fmt::format(
        "The probe write on '{}' failed after commit-restore: {}. '{}' left restore mode; see "
        "'{}'.",
        stone.name, r.status().message(), stone.name, stone.Command("status")));
  }
  *accepting = MonotonicNanos();
  return "to the first write accepted on " + stone.name + " (the probe write)";
}

std::string NewLineage(const std::string& reply) {
  size_t at = reply.find("new lineage");
  return at == std::string::npos ? reply : reply.substr(at);
}

Status PollUntil(int timeout_s, const std::function<Result<bool>()>& fn) {
  uint64_t deadline = MonotonicNanos() + static_cast<uint64_t>(timeout_s) * 1'000'000'000u;
  for (;;) {
    Result<bool> done = fn();
    if (!done.ok()) return done.status();
    if (*done) return Status::OK();
    if (MonotonicNanos() >= deadline) return Status::TimedOut("deadline passed");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<std::string> StopReceiversOf(const StoneRef& stone, uint64_t port, int timeout_s) {
  std::string stopped;
  for (const ProcessDescription& d : ReadPidFiles(stone.home.RunDir())) {
    if (d.type != "logreceiver" || d.name != stone.name) continue;
    if (port != 0 && d.port != std::to_string(port)) continue;
    if (d.pid <= 0 || !ProcessAlive(d.pid)) continue;  // left by a kill -9: nothing runs
    std::string base = fmt::format("logreceiver-{}-{}", d.port, d.name);
    TRANSHIP_RETURN_IF_ERROR(StopDaemonProcess(
        d.pid, fmt::format("The logreceiver for stone '{}' on port {}", d.name, d.port),
        stone.home.LogPath(base), timeout_s));
    stopped += fmt::format("{}port {} (pid {})", stopped.empty() ? "" : ", ", d.port, d.pid);
  }
  // The stone notices a closed connection on its own loop: wait until it does, so that
  // commit-restore does not find the receiver still logged in.
  uint32_t logged_in = 0;
  Status s = PollUntil(timeout_s, [&]() -> Result<bool> {
    Result<StoneInfo> info = stone.Info();
    if (!info.ok()) return info.status();
    logged_in = info->logreceivers;
    return logged_in == 0;
  });
  if (s.code() == Status::Code::kTimedOut) {
    return Status::Busy(fmt::format(
        "{} logreceiver(s) still logged in to '{}' after {} s{}; one this host does not run "
        "cannot be stopped from here",
        logged_in, stone.name, timeout_s, stopped.empty() ? "" : " (stopped " + stopped + ")"));
  }
  TRANSHIP_RETURN_IF_ERROR(s);
  return stopped;
}

}  // namespace tranship::failover
