#pragma once
// The state store: the in-memory ordered key/value state, the TID it is at, and in
// restore mode the restored position that goes with it, under one reader/writer lock.
//
// Readers (Get, Scan, the digest, a snapshot) take the lock shared. The log writer
// (engine/log_writer.h) is the only thread that writes the state of a primary: it
// applies each durable batch under the lock held exclusively, and may read the state
// without the lock. In restore mode there is no log writer; restore batches
// (Engine::ApplyRestored) write the state and the position together. What is written
// here next goes to the extent (engine/checkpointer.h) and to readers.

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/extent.h"
#include "engine/restore_mode.h"
#include "tranlog/commit.h"

namespace tranship {

class StateStore {
 public:
  StateStore(StateMap state, uint64_t tid, RestoreProgress restore)
      : state_(std::move(state)), applied_tid_(tid), restore_(std::move(restore)) {}

  ReadResult Get(std::string_view key) const;
  // Up to `limit` keys >= `start` in order.
  std::vector<std::pair<std::string, std::string>> Scan(std::string_view start,
                                                        size_t limit) const;
  uint64_t keys() const;
  RestoreProgress restore_progress() const;

  // Runs `fn(state, applied_tid, restore)` with the lock held shared.
  template <typename Fn>
  auto Read(Fn&& fn) const {
    std::shared_lock l(mu_);
    return fn(state_, applied_tid_, restore_);
  }
  // Runs `fn(&state, &applied_tid, &restore)` with the lock held exclusively.
  template <typename Fn>
  auto Write(Fn&& fn) {
    std::unique_lock l(mu_);
    return fn(&state_, &applied_tid_, &restore_);
  }

  // REQUIRES: called on the log-writer thread of a primary, the only writer: no lock.
  const StateMap& unlocked() const { return state_; }
  StateMap* unlocked_mutable() { return &state_; }
  // The version of `key` in the state (0: absent). Same REQUIRES as unlocked().
  uint64_t VersionUnlocked(const std::string& key) const {
    auto it = state_.find(key);
    return it == state_.end() ? 0 : it->second.version;
  }

 private:
  mutable std::shared_mutex mu_;
  StateMap state_;              // GUARDED_BY(mu_); written by the log writer, or in
                                // restore mode by ApplyRestored
  uint64_t applied_tid_;        // GUARDED_BY(mu_)
  RestoreProgress restore_;     // GUARDED_BY(mu_); meaningful in restore mode
};

}  // namespace tranship
