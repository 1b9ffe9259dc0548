#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "base/clock.h"

namespace tranship {
namespace {
std::atomic<int> g_fd{2};
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO ";
    case LogLevel::kWarn: return "WARN ";
    case LogLevel::kError: return "ERROR";
  }
  return "?    ";
}
}  // namespace

Status LogInit(const std::string& path, LogLevel min_level) {
  g_level.store(static_cast<int>(min_level));
  if (path.empty()) {
    g_fd.store(2);
    return Status::OK();
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "open log file " + path);
  int old = g_fd.exchange(fd);
  if (old > 2) ::close(old);
  return Status::OK();
}

void LogSetLevel(LogLevel min_level) { g_level.store(static_cast<int>(min_level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void LogLine(LogLevel level, std::string_view msg) {
  std::string line = FormatLocalTime(NowMicros());
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += msg;
  line += '\n';
  ssize_t n = ::write(g_fd.load(), line.data(), line.size());
  (void)n;
}

}  // namespace tranship
