#pragma once
// Follows the primary stone's durable end over its client protocol (run/STONE.sock):
// hello, subscribe, then a DurableEnd push each time the stone makes records durable.
//
// The stone may be stopped, restarted or not started yet: the follower logs the loss
// once, retries with a backoff (100 ms doubling to 2 s) and says when it follows again.
// While it does not, the logsender takes the durable end from disk (DiskEndScanner).
//
// REQUIRES: every call on the loop thread; callbacks run there too.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "tranlog/types.h"

namespace tranship::logsender {

class StoneFollower {
 public:
  struct Callbacks {
    std::function<void(const DurableEnd&)> on_end;  // each push while subscribed
    std::function<void(bool subscribed)> on_link;   // subscribed, or lost
  };
  StoneFollower(uv_loop_t* loop, std::string stone, std::string socket_path, Callbacks cb);
  // REQUIRES: Close()'s callback has run, or Start() was never called.
  ~StoneFollower();
  StoneFollower(const StoneFollower&) = delete;
  StoneFollower& operator=(const StoneFollower&) = delete;

  void Start();
  // Drops the connection and the retry timer; `done` runs once every handle is closed.
  void Close(std::function<void()> done);
  bool subscribed() const { return subscribed_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  struct Conn;
  static constexpr uint64_t kFirstBackoffMs = 100;
  static constexpr uint64_t kMaxBackoffMs = 2000;

  void Attempt();
  void OnConnected(Conn* c, int status);
  void OnRead(Conn* c, ssize_t nread);
  void Fail(const std::string& why);
  void CloseConn();
  void MaybeDone();

  uv_loop_t* loop_;
  std::string stone_;
  std::string socket_path_;
  Callbacks cb_;
  uv_timer_t retry_timer_;
  bool started_ = false;
  bool timer_open_ = false;
  bool closing_ = false;
  int open_handles_ = 0;
  std::function<void()> on_closed_;
  Conn* conn_ = nullptr;
  bool subscribed_ = false;
  bool outage_logged_ = false;  // the current outage has been reported
  uint64_t backoff_ms_ = kFirstBackoffMs;
  uint64_t reconnects_ = 0;
};

}  // namespace tranship::logsender
