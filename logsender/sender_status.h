#pragma once
// What a logsender reports about itself: the daemon writes it to run/logsender-PORT.status
// as JSON (logsender/daemon.cc) and `tranship status` shows it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tranlog/types.h"

namespace tranship::logsender {

struct ReceiverStatus {
  std::string peer;        // "127.0.0.1:40312" (", CN=standby1" over TLS)
  std::string stone;       // the standby stone the receiver feeds
  std::string state;       // ToString(ReceiverState)
  bool has_acked = false;  // the receiver has (or resumed with) a durable position
  Position acked;          // its acknowledged durable position
  uint64_t acked_tid = 0;
  Position sent;                      // where the next frame starts
  uint64_t lag_bytes = 0;             // acked (or start) to the primary's durable end
  std::optional<double> lag_seconds;  // primary end's commit time minus the acked one's
};

struct SenderStatus {
  std::string stone;
  bool tls = false;
  bool stone_connected = false;  // following the stone's subscription (else: disk)
  DurableEnd primary_end;
  std::vector<ReceiverStatus> receivers;
  uint64_t frames_built = 0;  // reads + compressions (a frame built again counts again)
  uint64_t frames_sent = 0;   // to all receivers together
  uint64_t cache_hits = 0;    // frames sent from the shared cache
  uint64_t frames_uncompressed = 0;  // built without zstd (--zstd-level off, incompressible)
  std::string zstd_level;            // "zstd 1", "uncompressed"
  uint64_t bytes_sent = 0;    // Data frame bytes queued to receivers
  uint64_t refused_connections = 0;  // before their TLS handshake or Hello ended
  uint64_t dropped_sessions = 0;     // after it: silence, garbage, a flood
};

}  // namespace tranship::logsender
