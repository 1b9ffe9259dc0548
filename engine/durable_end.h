#pragma once
// The durable end and its subscribers: the position after the last record that is on
// disk (fdatasync'ed), or in restore mode the restored history's end.
//
// The log writer (engine/log_writer.h) and the mode changes publish it; subscribers are
// called on the publishing thread. The stone's server (stone/) subscribes and announces
// the durable end, and the logsender reads the tranlog files up to it and never past.
//
// Locks: end_mu_ guards the end, subs_mu_ the subscribers. Publish never holds both;
// Subscribe holds subs_mu_ and then takes end_mu_ (subs_mu_ before end_mu_).

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "tranlog/types.h"

namespace tranship {

class DurableEndFeed {
 public:
  using Callback = std::function<void(const DurableEnd& end)>;

  explicit DurableEndFeed(const DurableEnd& end) : end_(end) {}

  DurableEnd end() const {
    std::lock_guard<std::mutex> l(end_mu_);
    return end_;
  }
  // Sets the end and, if it changed, calls every subscriber with it (under subs_mu_).
  void Publish(const DurableEnd& e);
  // Calls `fn` at once with the current end, then at every change.
  uint64_t Subscribe(Callback fn);
  void Unsubscribe(uint64_t id);

 private:
  mutable std::mutex end_mu_;
  DurableEnd end_;  // GUARDED_BY(end_mu_)

  std::mutex subs_mu_;
  std::map<uint64_t, Callback> subs_;  // GUARDED_BY(subs_mu_)
  uint64_t next_sub_id_ = 0;           // GUARDED_BY(subs_mu_)
};

}  // namespace tranship
