#pragma once
// The faults faultproxy injects, and the one-line control commands that change them
// while it runs (docs/faultproxy.md). No sockets here, so the parser is tested alone.
//
//   delay MS [JITTER_MS]   every chunk is held MS + uniform(0, JITTER_MS) ms (order kept)
//   throttle BYTES_PER_S   each direction of each connection at most this rate (0: off)
//   drop-after LO[-HI]     each connection is cut after a random byte count in [LO, HI]
//                          (both directions together; new and open connections)
//   stall | resume         stop / restart forwarding; both sockets stay open
//   flip P [chunk]         flip one bit per byte with probability P (or per chunk)
//   vanish                 the open connections go silent forever: nothing forwarded,
//                          no FIN or RST to either peer; new connections are normal
//   oneway c2s|s2c         bytes in that direction are read and discarded
//   clear                  every fault off (queued bytes are still delivered)
//   cut                    close every connection now (vanished ones too)
//   status                 counters, one line

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tranship::faultproxy {

struct Faults {
  uint32_t delay_ms = 0;
  uint32_t jitter_ms = 0;
  uint64_t throttle_bps = 0;  // 0: unlimited
  uint64_t drop_lo = 0;       // drop_hi == 0: off
  uint64_t drop_hi = 0;
  bool stall = false;
  double flip_p = 0;  // 0: off
  bool flip_per_chunk = false;
  bool discard_c2s = false;  // client (the connecting peer) to server (the target)
  bool discard_s2c = false;

  bool any() const {
    return delay_ms || jitter_ms || throttle_bps || drop_hi || stall || flip_p > 0 ||
           discard_c2s || discard_s2c;
  }
};

// What a command asks of the proxy beyond changing `Faults`.
enum class Action {
  kNone,
  kDropAfter,  // draw a cut point for every open connection
  kVanish,
  kCut,
  kStatus,
};

// Applies one control line to *faults; returns what else the proxy must do, or
// InvalidArgument with a one-line reason ("flip takes a probability in (0, 1]").
Result<Action> ApplyCommand(std::string_view line, Faults* faults);

// "delay 20+5 ms, flip 1e-06/byte" or "none".
std::string Describe(const Faults& f);

}  // namespace tranship::faultproxy
