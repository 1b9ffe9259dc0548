// restore-status: the text an operator reads and the JSON a script parses.

#include <fmt/format.h>

#include "base/clock.h"
#include "engine/restore_control.h"

namespace tranship {
namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += c;
    }
  }
  return out + "\"";
}

std::string Time(uint64_t us) { return us ? FormatUtc(us) : std::string("none"); }

}  // namespace

std::string FormatRestoreStatus(const RestoreStatus& s, const std::string& name) {
  std::string out = fmt::format("stone            {}\nmode             {}\n", name, s.mode);
  if (!s.restore_mode) return out;
  const RestoredPosition& at = s.progress.at;
  out += fmt::format("restored TID     {}\n", at.tid);
  out += fmt::format("lineage          {}\n", at.lineage.ToHex());
  out += fmt::format("position         {} (archive numbering)\n", at.pos.ToString());
  out += fmt::format("chain            {:016x}\n", at.chain);
  out += fmt::format("commit time      {}\n", Time(at.commit_time_us));
  if (!s.source.dirs.empty()) {
    std::string dirs;
    for (const std::string& d : s.source.dirs) dirs += (dirs.empty() ? "" : " ") + d;
    out += fmt::format("archive          {} (prefix '{}')\n", dirs, s.source.prefix);
  }
  out += fmt::format("applied          {} records since the stone started\n", s.applied);
  if (s.lag_known) {
    out += fmt::format("newest archived  TID {} ({}), commit time {}\n", s.archive_end.tid,
                       s.archive_end.pos.ToString(), Time(s.archive_end.commit_time_us));
    out += fmt::format("lag              {} bytes, {:.3f} s\n", s.lag_bytes, s.lag_us / 1e6);
  } else {
    out += "lag              unknown (no archive seen yet)\n";
  }
  if (s.progress.failover_tid) {
    out += fmt::format("failover         the restored history ends suspended at the failover "
                       "checkpoint (TID {})\n",
                       s.progress.failover_tid);
  }
  if (!s.continuous && !s.stop_reason.empty()) {
    out += fmt::format("stopped          {}\n", s.stop_reason);
  }
  if (!s.gap.empty()) {
    out += fmt::format("gap              {} is missing; commit-restore needs --accept-gap\n", s.gap);
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string FormatRestoreStatusJson(const RestoreStatus& s, const std::string& name) {
  const RestoredPosition& at = s.progress.at;
  std::string dirs;
  for (const std::string& d : s.source.dirs) dirs += (dirs.empty() ? "" : ",") + JsonString(d);
  return fmt::format(
      "{{\"stone\":{},\"mode\":{},\"restore_mode\":{},\"continuous\":{},"
      "\"restored\":{{\"lineage\":{},\"tid\":{},\"file_id\":{},\"offset\":{},\"chain\":\"{:016x}\","
      "\"commit_time_us\":{}}},\"archive\":{{\"dirs\":[{}],\"prefix\":{}}},\"applied\":{},"
      "\"lag_known\":{},\"archive_end\":{{\"tid\":{},\"file_id\":{},\"offset\":{},"
      "\"commit_time_us\":{}}},\"lag_bytes\":{},\"lag_seconds\":{:.6f},\"failover_tid\":{},"
      "\"stop_reason\":{},\"gap\":{}}}",
      JsonString(name), JsonString(s.mode), s.restore_mode, s.continuous,
      JsonString(at.lineage.ToHex()), at.tid, at.pos.file_id, at.pos.offset, at.chain,
      at.commit_time_us, dirs, JsonString(s.source.prefix), s.applied, s.lag_known,
      s.archive_end.tid, s.archive_end.pos.file_id, s.archive_end.pos.offset,
      s.archive_end.commit_time_us, s.lag_bytes, s.lag_us / 1e6, s.progress.failover_tid,
      JsonString(s.stop_reason), JsonString(s.gap));
}

}  // namespace tranship
