#pragma once
// Daemon and tool logging: one line per event, "2026-11-21 06:12:00.123 INFO  message",
// written with a single write(2) so lines from threads never interleave.
// Before LogInit() lines go to stderr.

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace tranship {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sends log lines to `path` (appended, created 0600), or stderr if empty.
Status LogInit(const std::string& path, LogLevel min_level);
void LogSetLevel(LogLevel min_level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view msg);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (!LogEnabled(level)) return;
  LogLine(level, fmt::format(f, std::forward<Args>(args)...));
}

#define TS_LOG_DEBUG(...) ::tranship::Log(::tranship::LogLevel::kDebug, __VA_ARGS__)
#define TS_LOG_INFO(...) ::tranship::Log(::tranship::LogLevel::kInfo, __VA_ARGS__)
#define TS_LOG_WARN(...) ::tranship::Log(::tranship::LogLevel::kWarn, __VA_ARGS__)
#define TS_LOG_ERROR(...) ::tranship::Log(::tranship::LogLevel::kError, __VA_ARGS__)

}  // namespace tranship
