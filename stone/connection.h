#pragma once
// One client connection of the stone server (internal to stone/server.cc).
//
// Owns its uv_pipe_t, its input FrameReader and two output buffers: `out_` collects
// replies while `writing_` is the buffer of the one uv_write in flight (the write
// request and its bytes live in the connection, which outlives them). Replies produced
// during one loop callback go out with one write.
//
// Lifetime: Close() calls uv_close; the object frees itself once the close callback
// ran AND no commit or admin verb of it is still in the engine (their completions
// hold a raw pointer to it). Memory stays bounded: reading pauses while too many
// requests are in flight or too many reply bytes wait for a slow reader.
//
// REQUIRES: every method is called on the loop thread.

#include <uv.h>

#include <cstdint>
#include <string>

#include "base/status.h"
#include "client/protocol.h"
#include "tranlog/types.h"

namespace tranship {

class Connection;

// What a connection needs from its server.
class ConnectionHost {
 public:
  // Handles one request; a non-ok status is a protocol violation that closes the
  // connection (replies to valid requests carry their own status).
  virtual Status HandleFrame(Connection* c, const client_protocol::Frame& f) = 0;
  virtual void OnConnectionClosing(Connection* c) = 0;  // uv_close was just called
  virtual void OnConnectionFreed(Connection* c) = 0;    // about to be deleted
  virtual bool stopping() const = 0;
  // The newest durable end the loop knows, for a coalesced push.
  virtual const DurableEnd& latest_end() const = 0;

 protected:
  ~ConnectionHost() = default;
};

class Connection {
 public:
  Connection(ConnectionHost* host, uint64_t id, uv_loop_t* loop);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Accepts a pending connection of `server`; false if that failed (then closed).
  bool Accept(uv_stream_t* server);
  void StartReading();
  void StopReading();
  // Idempotent; the object may be freed before the next loop iteration.
  void Close();
  // Stop path: send what is queued, then shut the write side down and close.
  void ShutdownWhenFlushed();

  // Replies are appended here; Flush (or FlushIfDirty after MarkDirty) sends them.
  std::string* output() { return &out_; }
  void Flush();
  bool MarkDirty();  // true if it was not dirty yet
  void FlushIfDirty();

  void add_inflight() { inflight_++; }
  void remove_inflight() { inflight_--; }
  // A request's reply was produced (or dropped because closing): may free the object.
  void RequestDone();

  // Appends a push unless this end is not newer than the last one sent; while a write
  // is in flight only remembers to send the newest end afterwards.
  void SendDurableEnd(const DurableEnd& end);

  uint64_t id() const { return id_; }
  ConnectionHost* host() const { return host_; }
  bool closing() const { return closing_; }
  bool hello_done() const { return hello_done_; }
  void set_hello_done() { hello_done_ = true; }
  // Said hello as a logreceiver (client_protocol::kLogreceiverClientName).
  bool logreceiver() const { return logreceiver_; }
  void set_logreceiver() { logreceiver_ = true; }
  bool subscribed() const { return subscribed_; }
  void set_subscribed(uint32_t id) {
    subscribed_ = true;
    subscribe_id_ = id;
  }

 private:
  ~Connection() = default;
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&pipe_); }
  bool Saturated() const;
  void ProcessInput();
  void OnRead(ssize_t nread);
  void OnWritten(int status);
  void MaybeShutdown();
  void MaybeFree();

  ConnectionHost* host_;
  uint64_t id_;
  uv_pipe_t pipe_;
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  client_protocol::FrameReader in_;
  std::string out_;
  std::string writing_;
  uint32_t inflight_ = 0;
  bool reading_ = false;
  bool paused_ = false;  // reading stopped for backpressure
  bool write_in_flight_ = false;
  bool dirty_ = false;
  bool eof_ = false;
  bool shutdown_wanted_ = false;
  bool shutdown_started_ = false;
  bool closing_ = false;
  bool handle_closed_ = false;
  bool hello_done_ = false;
  bool logreceiver_ = false;
  bool subscribed_ = false;
  uint32_t subscribe_id_ = 0;
  bool end_sent_ = false;
  bool end_pending_ = false;
  DurableEnd last_end_;
};

}  // namespace tranship
