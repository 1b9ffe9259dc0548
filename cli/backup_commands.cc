// Backups from the command line: `tranship admin NAME full-backup FILE`,
// `tranship admin NAME restore-from-backup FILE` (run by the stone) and
// `tranship stone create NAME --from-backup FILE` (run here, the stone does not exist
// yet).
//
// Progress: an admin verb's reply is one text at the end, so while the verb runs the
// command polls `admin NAME backup-status` on a second connection, ten times a second,
// and draws that line on stderr when stderr is a terminal. Nothing is drawn otherwise
// (cron, scripts, pipes see only the final line).

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "base/clock.h"
#include "cli/backup_commands.h"
#include "home/connect.h"
#include "stone/backup_admin.h"
#include "restore/backup_format.h"
#include "restore/apply.h"

namespace tranship::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(100);  // one cheap request

void DrawLine(const std::string& line) {
  fmt::print(stderr, "\r{}\x1b[K", line);
  std::fflush(stderr);
}

void ClearLine() {
  fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
}

// Polls backup-status while the verb runs and draws the lines that are about it.
class RemoteProgress {
 public:
  RemoteProgress(const Home& home, std::string name, std::string prefix)
      : home_(home), name_(std::move(name)), prefix_(std::move(prefix)) {
    if (isatty(STDERR_FILENO) == 1) thread_ = std::thread([this] { Run(); });
  }
  ~RemoteProgress() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    if (shown_) ClearLine();
  }

 private:
  void Run() {
    Result<std::unique_ptr<StoneClient>> client = ConnectStone(home_, name_);
    if (!client.ok()) return;  // the verb itself will say what is wrong
    std::unique_lock<std::mutex> l(mu_);
    while (!cv_.wait_for(l, kPollInterval, [this] { return stop_; })) {
      l.unlock();
      Result<std::string> line = (*client)->Admin("backup-status");
      l.lock();
      if (!line.ok()) return;
      // Before the verb starts, and after it ends, the line is about another backup.
      if (stop_ || !line->starts_with(prefix_)) continue;
      DrawLine(*line);
      shown_ = true;
    }
  }

  const Home& home_;
  const std::string name_;
  const std::string prefix_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool shown_ = false;
  std::thread thread_;
};

// The stone resolves paths in its own working directory: send it an absolute one.
std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

}  // namespace

bool IsBackupAdminCommand(std::string_view verb) {
  return verb == "full-backup" || verb == "restore-from-backup";
}

Status BackupAdminCommand(Context& ctx, const std::string& name, const std::string& verb,
                          std::vector<std::string> args) {
  if (args.size() != 1) {
    return Status::InvalidArgument(fmt::format(
        "'tranship admin {} {}' takes one argument, the backup file. To fix this run "
        "'tranship admin {} {} FILE'.", name, verb, name, verb));
  }
  args[0] = Absolute(args[0]);
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(ctx.home, name);
  if (!client.ok()) return client.status();
  Result<std::string> text = std::string();
  {
    RemoteProgress progress(ctx.home, name, verb + " " + args[0]);
    text = (*client)->Admin(verb, args);
  }
  if (!text.ok()) return text.status();
  fmt::print("{}\n", *text);
  return Status::OK();
}

Result<std::string> SeedFromBackup(const EngineOptions& options, const std::string& file) {
  std::string path = Absolute(file);
  bool tty = isatty(STDERR_FILENO) == 1;
  uint64_t last_draw = 0;
  bool shown = false;
  BackupHeader h;
  StateMap state;
  Status s = ReadBackupFile(Env::Default(), path, &h, &state, [&](const BackupProgress& p) {
    uint64_t now = MonotonicNanos();
    if (!tty || now - last_draw < 200'000'000) return;
    last_draw = now;
    shown = true;
    DrawLine(fmt::format("reading {}: {} of {} keys ({}%), {:.1f} of {:.1f} MB", path,
                         p.keys_done, p.keys_total,
                         p.keys_total ? p.keys_done * 100 / p.keys_total : 100,
                         p.bytes_done / 1e6, p.bytes_total / 1e6));
  });
  if (shown) ClearLine();
  if (!s.ok()) return s;
  RestoredPosition pos{h.lineage, h.position, h.tid, h.chain, h.last_commit_us};
  TRANSHIP_RETURN_IF_ERROR(Engine::CreateRestoring(options, state, pos, /*replace=*/false));
  return fmt::format("from the backup {} of '{}' ({} keys), in restore mode at TID {} "
                     "(lineage {}, {})",
                     path, h.stone_name, h.keys, h.tid, h.lineage.ToHex(),
                     h.position.ToString());
}

}  // namespace tranship::cli
