// restore-status: the text an operator reads and the JSON a script parses.

#include <fmt/format.h>

#include "base/clock.h"
#include "base/json.h"
#include "restore/control.h"

namespace tranship {
namespace {

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
  JsonWriter j;
  j.BeginObject();
  j.Key("stone"); j.String(name);
  j.Key("mode"); j.String(s.mode);
  j.Key("restore_mode"); j.Bool(s.restore_mode);
  j.Key("continuous"); j.Bool(s.continuous);
  j.Key("restored");
  j.BeginObject();
  j.Key("lineage"); j.String(at.lineage.ToHex());
  j.Key("tid"); j.Uint(at.tid);
  j.Key("file_id"); j.Uint(at.pos.file_id);
  j.Key("offset"); j.Uint(at.pos.offset);
  j.Key("chain"); j.String(fmt::format("{:016x}", at.chain));
  j.Key("commit_time_us"); j.Uint(at.commit_time_us);
  j.EndObject();
  j.Key("archive");
  j.BeginObject();
  j.Key("dirs");
  j.BeginArray();
  for (const std::string& d : s.source.dirs) j.String(d);
  j.EndArray();
  j.Key("prefix"); j.String(s.source.prefix);
  j.EndObject();
  j.Key("applied"); j.Uint(s.applied);
  j.Key("lag_known"); j.Bool(s.lag_known);
  j.Key("archive_end");
  j.BeginObject();
  j.Key("tid"); j.Uint(s.archive_end.tid);
  j.Key("file_id"); j.Uint(s.archive_end.pos.file_id);
  j.Key("offset"); j.Uint(s.archive_end.pos.offset);
  j.Key("commit_time_us"); j.Uint(s.archive_end.commit_time_us);
  j.EndObject();
  j.Key("lag_bytes"); j.Uint(s.lag_bytes);
  j.Key("lag_seconds"); j.Number(fmt::format("{:.6f}", s.lag_us / 1e6));
  j.Key("failover_tid"); j.Uint(s.progress.failover_tid);
  j.Key("stop_reason"); j.String(s.stop_reason);
  j.Key("gap"); j.String(s.gap);
  j.EndObject();
  return j.str();
}

}  // namespace tranship
