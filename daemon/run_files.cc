// Run files: the lock, pid file and teardown of a tranship daemon (see run_files.h); the
// pid files go on to `tranship status` and the stop commands.
#include "daemon/run_files.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "base/file_lock.h"
#include "base/log.h"

namespace tranship::daemon {
namespace {

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string UserName(uid_t uid) {
  struct passwd pw;
  struct passwd* result = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) == 0 && result != nullptr) {
    return pw.pw_name;
  }
  return std::to_string(uid);
}

}  // namespace

std::string FormatPidFile(const ProcessDescription& d) {
  std::string text =
      fmt::format("{}\ntype={}\nname={}\nversion={}\nowner={}\nstarted_us={}\nport={}\n",
                  d.pid, d.type, d.name, d.version, d.owner, d.started_us, d.port);
  if (!d.mode.empty()) text += fmt::format("mode={}\n", d.mode);
  return text;
}

Result<ProcessDescription> ParsePidFile(std::string_view text) {
  ProcessDescription d;
  bool first = true;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (first) {
      first = false;
      if (!ParseNumber(line, &d.pid) || d.pid <= 0) {
        return Status::Corruption("the first line is not a pid");
      }
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq);
    std::string value(line.substr(eq + 1));
    if (key == "type") d.type = value;
    else if (key == "name") d.name = value;
    else if (key == "version") d.version = value;
    else if (key == "owner") d.owner = value;
    else if (key == "port") d.port = value;
    else if (key == "mode") d.mode = value;
    else if (key == "started_us") (void)ParseNumber(std::string_view(value), &d.started_us);
    // Unknown keys are skipped: newer writers may add fields.
  }
  if (first) return Status::Corruption("empty pid file");
  return d;
}

Status WritePidFile(const std::string& path, const ProcessDescription& d) {
  return WriteFileAtomic(Env::Default(), path, FormatPidFile(d));
}

Result<ProcessDescription> ReadPidFile(const std::string& path) {
  Result<std::string> text = ReadFileToString(Env::Default(), path);
  if (!text.ok()) return text.status();
  Result<ProcessDescription> d = ParsePidFile(*text);
  if (!d.ok()) return Status::Corruption(fmt::format("{}: {}", path, d.status().message()));
  d->pidfile = path;
  return d;
}

std::vector<ProcessDescription> ReadPidFiles(const std::string& run_dir) {
  std::vector<ProcessDescription> out;
  Result<std::vector<std::string>> names = Env::Default()->GetChildren(run_dir);
  if (!names.ok()) return out;
  std::sort(names->begin(), names->end());
  for (const std::string& n : *names) {
    if (!n.ends_with(".pid")) continue;
    Result<ProcessDescription> d = ReadPidFile(JoinPath(run_dir, n));
    if (d.ok()) out.push_back(std::move(*d));
  }
  return out;
}

bool IsStoneProcess(pid_t pid, const std::string& name) {
  if (!ProcessAlive(pid)) return false;
  std::string cmdline = ReadProcFile(fmt::format("/proc/{}/cmdline", pid));
  std::vector<std::string_view> args;
  std::string_view rest = cmdline;
  while (!rest.empty()) {
    size_t z = rest.find('\0');
    args.push_back(rest.substr(0, z));
    rest.remove_prefix(z == std::string_view::npos ? rest.size() : z + 1);
  }
  for (size_t i = 0; i + 2 < args.size(); i++) {
    if (args[i] == "stone" && args[i + 1] == "serve" && args[i + 2] == name) return true;
  }
  return false;
}

std::string CurrentUser() { return UserName(geteuid()); }

std::string FileOwner(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "-";
  return UserName(st.st_uid);
}

std::string RunFilePath(const std::string& run_dir, const std::string& base,
                        std::string_view ext) {
  return JoinPath(run_dir, fmt::format("{}.{}", base, ext));
}

Result<std::unique_ptr<FileLock>> LockRunFiles(
    const std::string& run_dir, const std::string& base,
    const std::function<Status(std::optional<pid_t>)>& busy) {
  Result<std::unique_ptr<FileLock>> lock =
      AcquireLock(Env::Default(), RunFilePath(run_dir, base, "lock"));
  if (lock.ok() || lock.status().code() != Status::Code::kBusy) return lock;
  Result<ProcessDescription> d = ReadPidFile(RunFilePath(run_dir, base, "pid"));
  if (d.ok() && !ProcessAlive(d->pid)) return lock.status();  // died, never let go
  return busy(d.ok() ? std::optional<pid_t>(d->pid) : std::nullopt);
}

ProcessDescription ThisProcess(const std::string& type, const std::string& name,
                               const std::string& port) {
  ProcessDescription d;
  d.pid = getpid();
  d.type = type;
  d.name = name;
  d.version = TRANSHIP_VERSION;
  d.owner = CurrentUser();
  d.started_us = NowMicros();
  d.port = port;
  return d;
}

void WritePidFileOrWarn(const std::string& path, const ProcessDescription& d) {
  Status s = WritePidFile(path, d);
  if (!s.ok()) TS_LOG_WARN("cannot write {}: {}", path, s.ToString());
}

void RemoveRunFiles(const std::string& pid_path, const std::vector<std::string>& others) {
  Result<ProcessDescription> mine = ReadPidFile(pid_path);
  if (mine.ok() && mine->pid == getpid()) (void)Env::Default()->RemoveFile(pid_path);
  for (const std::string& path : others) (void)Env::Default()->RemoveFile(path);
}

void WriteStatusFile(const std::string& path, std::string_view text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  while (ok && !text.empty()) {
    ssize_t w = ::write(fd, text.data(), text.size());
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) text.remove_prefix(static_cast<size_t>(w));
  }
  int err = ok ? 0 : errno;
  if (fd >= 0 && ::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    if (fd >= 0) (void)::unlink(tmp.c_str());
    TS_LOG_WARN("cannot write {}: {}", path, std::strerror(err));
  }
}

}  // namespace tranship::daemon
