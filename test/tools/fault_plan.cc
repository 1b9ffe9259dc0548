// faultproxy's control commands: parsing and the description of what is in force.

#include "test/tools/fault_plan.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace tranship::faultproxy {
namespace {

std::vector<std::string> Words(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

bool ParseU64(const std::string& s, uint64_t* v) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  *v = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && *end == '\0';
}

Status Bad(std::string_view usage) { return Status::InvalidArgument(std::string(usage)); }

}  // namespace

Result<Action> ApplyCommand(std::string_view line, Faults* f) {
  std::vector<std::string> w = Words(line);
  if (w.empty()) return Bad("empty command; try 'status'");
  const std::string& verb = w[0];
  const size_t n = w.size();
  if (verb == "delay") {
    uint64_t ms = 0, jitter = 0;
    if (n < 2 || n > 3 || !ParseU64(w[1], &ms) || (n == 3 && !ParseU64(w[2], &jitter)) ||
        ms > 600000 || jitter > 600000) {
      return Bad("usage: delay MS [JITTER_MS] (each up to 600000)");
    }
    f->delay_ms = static_cast<uint32_t>(ms);
    f->jitter_ms = static_cast<uint32_t>(jitter);
    return Action::kNone;
  }
  if (verb == "throttle") {
    uint64_t bps = 0;
    if (n != 2 || !ParseU64(w[1], &bps)) return Bad("usage: throttle BYTES_PER_S (0: off)");
    f->throttle_bps = bps;
    return Action::kNone;
  }
  if (verb == "drop-after") {
    uint64_t lo = 0, hi = 0;
    bool ok = n == 2;
    if (ok) {
      size_t dash = w[1].find('-');
      ok = dash == std::string::npos
               ? ParseU64(w[1], &lo) && (hi = lo, true)
               : ParseU64(w[1].substr(0, dash), &lo) && ParseU64(w[1].substr(dash + 1), &hi);
    }
    if (!ok || lo == 0 || hi < lo) return Bad("usage: drop-after LO[-HI] (bytes, 1 <= LO <= HI)");
    f->drop_lo = lo;
    f->drop_hi = hi;
    return Action::kDropAfter;
  }
  if (verb == "stall" || verb == "resume") {
    if (n != 1) return Bad("usage: stall | resume");
    f->stall = verb == "stall";
    return Action::kNone;
  }
  if (verb == "flip") {
    char* end = nullptr;
    double p = n >= 2 ? std::strtod(w[1].c_str(), &end) : 0;
    bool chunk = n == 3 && w[2] == "chunk";
    if (n < 2 || n > 3 || *end != '\0' || !(p >= 0 && p <= 1) || (n == 3 && !chunk)) {
      return Bad("usage: flip P [chunk] (a probability from 0 to 1 per byte, or per chunk)");
    }
    f->flip_p = p;
    f->flip_per_chunk = chunk;
    return Action::kNone;
  }
  if (verb == "oneway") {
    if (n != 2 || (w[1] != "c2s" && w[1] != "s2c")) {
      return Bad("usage: oneway c2s|s2c (the direction whose bytes are discarded)");
    }
    f->discard_c2s = w[1] == "c2s";
    f->discard_s2c = w[1] == "s2c";
    return Action::kNone;
  }
  if (n == 1 && verb == "clear") {
    *f = Faults{};
    return Action::kNone;
  }
  if (n == 1 && verb == "vanish") return Action::kVanish;
  if (n == 1 && verb == "cut") return Action::kCut;
  if (n == 1 && verb == "status") return Action::kStatus;
  return Status::InvalidArgument(
      fmt::format("unknown command '{}'; commands: delay, throttle, drop-after, stall, resume, "
                  "flip, vanish, oneway, clear, cut, status",
                  line));
}

std::string Describe(const Faults& f) {
  std::vector<std::string> parts;
  if (f.delay_ms || f.jitter_ms) parts.push_back(fmt::format("delay {}+{} ms", f.delay_ms, f.jitter_ms));
  if (f.throttle_bps) parts.push_back(fmt::format("throttle {} B/s", f.throttle_bps));
  if (f.drop_hi) parts.push_back(fmt::format("drop-after {}-{}", f.drop_lo, f.drop_hi));
  if (f.stall) parts.push_back("stall");
  if (f.flip_p > 0) {
    parts.push_back(fmt::format("flip {}/{}", f.flip_p, f.flip_per_chunk ? "chunk" : "byte"));
  }
  if (f.discard_c2s) parts.push_back("oneway (c2s discarded)");
  if (f.discard_s2c) parts.push_back("oneway (s2c discarded)");
  if (parts.empty()) return "none";
  std::string s = parts[0];
  for (size_t i = 1; i < parts.size(); i++) s += ", " + parts[i];
  return s;
}

}  // namespace tranship::faultproxy
