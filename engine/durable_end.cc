#include "engine/durable_end.h"

namespace tranship {

void DurableEndFeed::Publish(const DurableEnd& e) {
  {
    std::lock_guard<std::mutex> l(end_mu_);
    if (e == end_) return;
    end_ = e;
  }
  std::lock_guard<std::mutex> l(subs_mu_);
  for (auto& [id, fn] : subs_) fn(e);
}

uint64_t DurableEndFeed::Subscribe(Callback fn) {
  std::lock_guard<std::mutex> l(subs_mu_);
  uint64_t id = ++next_sub_id_;
  fn(end());
  subs_.emplace(id, std::move(fn));
  return id;
}

void DurableEndFeed::Unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> l(subs_mu_);
  subs_.erase(id);
}

}  // namespace tranship
