#pragma once
// The digest of a state: its TID, its key count and a SHA-256 over the sorted (key,
// value) pairs, so that an operator (and a test) can prove a standby equals its primary
// at the same TID. The stone's `digest` admin verb prints it.

#include <cstdint>
#include <string>

namespace tranship {

class StateStore;

struct Digest {
  uint64_t tid = 0;        // the state's last applied TID
  uint64_t keys = 0;
  std::string sha256_hex;  // SHA-256 over the sorted (key, value) pairs
};

// Reads the state at one TID through a consistent scan (engine/snapshot_scan.h), while
// commits go on, on a thread at background priority (base/background.h). A scan cut short by restore mode replacing the state starts again on
// the new state; one that fails otherwise leaves sha256_hex empty, which equals no
// other digest (and is logged).
Digest ComputeDigest(const StateStore& store);

}  // namespace tranship
