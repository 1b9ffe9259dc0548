#pragma once
// The logreceiver's line to its standby stone: a client-protocol connection to the
// stone's Unix socket (run/STONE.sock) that says hello as "logreceiver" and sends an
// archive notify after each fdatasync of the archive, so that continuous restore can
// replay the new records at once instead of polling the directory.
//
// The stone may be down, restarting, or not yet created: the link then retries with
// backoff (100 ms doubling to 5 s) and says so in the log once. It also asks the stone
// about itself for a receiver whose archive is empty (AskInfo). Notifications are hints
// (the archive files are the truth): only the newest end is kept and sent, one write at
// a time, so memory stays bounded whatever the stone does.
//
// REQUIRES: every call on the loop thread. Close() before the loop ends.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/protocol.h"
#include "tranlog/types.h"

namespace tranship::logreceiver {

class StandbyLink {
 public:
  StandbyLink(uv_loop_t* loop, std::string socket_path, std::string stone);
  ~StandbyLink();
  StandbyLink(const StandbyLink&) = delete;
  StandbyLink& operator=(const StandbyLink&) = delete;

  void Start();
  // Remembers `end` and sends it when the stone is connected.
  void Notify(const DurableEnd& end);
  // Asks the stone about itself (client protocol `info`): `done` gets its answer, or
  // nullopt when the stone cannot be reached now (not connected, or the link is lost
  // before the answer). It may run before AskInfo returns.
  void AskInfo(std::function<void(std::optional<StoneInfo>)> done);
  void Close();

  bool connected() const { return conn_ != nullptr && hello_done_; }
  uint64_t notifies_acknowledged() const { return acked_; }

 private:
  struct Conn;
  void Connect();
  void OnConnect(int status);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void MaybeSend();
  void WriteBuffered();
  void AnswerInfo(const std::optional<StoneInfo>& info);
  void Lost(const std::string& why);
  void ScheduleRetry();

  uv_loop_t* loop_;
  std::string socket_path_;
  std::string stone_;
  uv_timer_t retry_timer_;
  bool timer_open_ = false;
  bool closing_ = false;
  Conn* conn_ = nullptr;        // owned; freed in its close callback
  bool hello_done_ = false;
  bool write_in_flight_ = false;
  uint32_t next_id_ = 1;
  DurableEnd latest_;
  bool have_latest_ = false;
  bool latest_sent_ = true;
  uint32_t backoff_ms_ = 100;
  bool down_logged_ = false;
  uint64_t acked_ = 0;
  std::vector<std::function<void(std::optional<StoneInfo>)>> info_waiters_;
  bool info_wanted_ = false;     // an info request is to be sent
  bool info_in_flight_ = false;  // ... was sent; its reply answers every waiter
};

}  // namespace tranship::logreceiver
