#include "engine/state_store.h"

namespace tranship {

ReadResult StateStore::Get(std::string_view key) const {
  std::shared_lock l(mu_);
  auto it = state_.find(key);
  if (it == state_.end()) return ReadResult{};
  return ReadResult{true, it->second.value, it->second.version};
}

std::vector<std::pair<std::string, std::string>> StateStore::Scan(std::string_view start,
                                                                  size_t limit) const {
  std::shared_lock l(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = state_.lower_bound(start); it != state_.end() && out.size() < limit; ++it) {
    out.emplace_back(it->first, it->second.value);
  }
  return out;
}

uint64_t StateStore::keys() const {
  std::shared_lock l(mu_);
  return static_cast<uint64_t>(state_.size());
}

RestoreProgress StateStore::restore_progress() const {
  std::shared_lock l(mu_);
  return restore_;
}

}  // namespace tranship
