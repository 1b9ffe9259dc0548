#pragma once
// One logreceiver connected to the logsender: its transport, its state, what was sent
// to it and what it has acknowledged.
//
// States (changed only through SetState, which logs each transition):
//   startup    connected; waiting for its Hello, then the handshake checks
//   catch-up   welcomed; reading from the tranlog files, far (> 4 MiB) behind the end
//   streaming  near the primary's durable end: frames come from the shared cache as
//              the end advances
//   stopping   refused, dropped, or the logsender is stopping; the transport closes
//
// Invariant 4: acked() moves only in OnAck, to the position the receiver says it has
// made durable, and never past what was sent; an Ack that claims more, goes backwards or
// names another TID than the frame that ended there drops the receiver.
//
// REQUIRES: loop thread only.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "logsender/frame_builder.h"
#include "logsender/history.h"
#include "logsender/token_bucket.h"
#include "wire/protocol.h"
#include "wire/transport.h"

namespace tranship::logsender {

enum class ReceiverState { kStartup, kCatchUp, kStreaming, kStopping };
const char* ToString(ReceiverState s);

class ReceiverSession;

// What a session tells the logsender.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual void OnHello(ReceiverSession* s, const wire::Hello& hello) = 0;
  // The window opened (an Ack) or the transport drained: more can be sent.
  virtual void OnSendable(ReceiverSession* s) = 0;
  virtual void OnStateChanged(ReceiverSession* s) = 0;
  // The transport is gone; the session may be destroyed after this returns.
  virtual void OnClosed(ReceiverSession* s) = 0;
};

class ReceiverSession {
 public:
  ReceiverSession(uint64_t id, std::unique_ptr<wire::Transport> transport, SessionHost* host,
                  uint64_t bandwidth_bytes_per_s, uint64_t now_ns);

  void Start();
  uint64_t id() const { return id_; }
  ReceiverState state() const { return state_; }
  bool welcomed() const {
    return state_ == ReceiverState::kCatchUp || state_ == ReceiverState::kStreaming;
  }
  void SetState(ReceiverState s, std::string_view why);
  const std::string& peer() const { return peer_; }
  const std::string& stone() const { return hello_.receiver_stone; }
  // The lineage its stream is in: the Hello's (or its first file's), then each junction's.
  const Lineage& lineage() const { return lineage_; }
  // "127.0.0.1:40312 (standby 'standby1')"
  std::string Describe() const;

  // ---- handshake ----
  // `lineage`: the lineage the stream starts in.
  void Welcome(const wire::Welcome& w, const Boundary& start, std::optional<Boundary> acked,
               const Lineage& lineage, ReceiverState first);
  // Sends a Refuse (also the goodbye of a stopping logsender) and closes.
  void Refuse(const wire::Refuse& r);
  // Logs why and closes the connection without a word to the peer.
  void Drop(const std::string& why);

  // ---- sending ----
  const Boundary& cursor() const { return cursor_; }
  // Window open, transport below its high-water mark, bandwidth available.
  bool CanSend(uint64_t now_ns, size_t window_bytes);
  void SendFrame(const std::shared_ptr<const BuiltFrame>& f, uint64_t now_ns);
  // The stream reached a junction (logsender/lineages.h): the next frame starts at
  // `next`, offset 0 of the child lineage's first file, which continues the same TID
  // and chain.
  void Jump(const Boundary& next, const Lineage& child);
  void SendKeepalive(const DurableEnd& primary_end, uint64_t now_ns);
  FileSource* source() { return &source_; }
  uint64_t unacked_bytes() const { return unacked_bytes_; }

  // ---- acknowledgements ----
  const std::optional<Boundary>& acked() const { return acked_; }

  // ---- timing ----
  uint64_t last_received_ns() const { return last_received_ns_; }
  // The length of the frame it is in the middle of sending, or 0 (wire::SilenceLimitMs).
  uint32_t pending_frame_length() const { return reader_.pending_length(); }
  uint64_t last_sent_ns() const { return last_sent_ns_; }

 private:
  struct InFlight {
    Position end;   // after the frame's last record
    Position next;  // where the next frame starts (next file after a log switch)
    uint64_t last_tid;
    uint64_t last_commit_us;
    uint64_t raw;
  };

  void OnData(std::string_view bytes);
  Status HandleFrame(const wire::Frame& f);
  Status OnAck(const wire::Ack& a);
  void Write(wire::SharedBuffer buf, uint64_t now_ns);

  uint64_t id_;
  std::unique_ptr<wire::Transport> transport_;
  SessionHost* host_;
  std::string peer_;
  ReceiverState state_ = ReceiverState::kStartup;
  wire::FrameReader reader_{wire::kMaxReceiverFrame};
  wire::Hello hello_;
  bool hello_seen_ = false;
  bool closed_ = false;

  Boundary cursor_;                 // where the next frame starts
  Lineage lineage_;
  std::optional<Boundary> acked_;   // what the receiver has made durable
  std::deque<InFlight> in_flight_;  // sent, not yet acknowledged, oldest first
  uint64_t unacked_bytes_ = 0;      // raw bytes of in_flight_
  bool blocked_ = false;            // the transport is above its high-water mark
  TokenBucket bucket_;
  FileSource source_;

  uint64_t last_received_ns_;
  uint64_t last_sent_ns_;
};

}  // namespace tranship::logsender
