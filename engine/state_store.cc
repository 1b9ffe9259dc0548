#include "engine/state_store.h"

namespace tranship {

StateStore::StateStore(StateMap state, uint64_t tid, RestoreProgress restore)
    : core_(std::make_shared<StateCore>()) {
  core_->map = std::move(state);
  core_->applied_tid = tid;
  core_->restore = std::move(restore);
}

ReadResult StateStore::Get(std::string_view key) const {
  std::shared_lock l(core_->mu);
  auto it = core_->map.find(key);
  if (it == core_->map.end()) return ReadResult{};
  return ReadResult{true, it->second.value, it->second.version};
}

std::vector<std::pair<std::string, std::string>> StateStore::Scan(std::string_view start,
                                                                  size_t limit) const {
  std::shared_lock l(core_->mu);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = core_->map.lower_bound(start); it != core_->map.end() && out.size() < limit;
       ++it) {
    out.emplace_back(it->first, it->second.value);
  }
  return out;
}

uint64_t StateStore::keys() const {
  std::shared_lock l(core_->mu);
  return static_cast<uint64_t>(core_->map.size());
}

RestoreProgress StateStore::restore_progress() const {
  std::shared_lock l(core_->mu);
  return core_->restore;
}

}  // namespace tranship
