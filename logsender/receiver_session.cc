#include "logsender/receiver_session.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"

namespace tranship::logsender {

const char* ToString(ReceiverState s) {
  switch (s) {
    case ReceiverState::kStartup:
      return "startup";
    case ReceiverState::kCatchUp:
      return "catch-up";
    case ReceiverState::kStreaming:
      return "streaming";
    case ReceiverState::kStopping:
      return "stopping";
  }
  return "?";
}

ReceiverSession::ReceiverSession(uint64_t id, std::unique_ptr<wire::Transport> transport,
                                 SessionHost* host, uint64_t bandwidth_bytes_per_s, uint64_t now_ns)
    : id_(id),
      transport_(std::move(transport)),
      host_(host),
      peer_(transport_->PeerName()),
      bucket_(bandwidth_bytes_per_s, now_ns),
      last_received_ns_(now_ns),
      last_sent_ns_(now_ns) {}

void ReceiverSession::Start() {
  wire::Transport::Callbacks cb;
  cb.on_data = [this](std::string_view bytes) { OnData(bytes); };
  cb.on_writable = [this] {
    blocked_ = false;
    host_->OnSendable(this);
  };
  cb.on_closed = [this](const Status& why) {
    closed_ = true;
    if (state_ != ReceiverState::kStopping) {
      TS_LOG_WARN("lost the logreceiver {}: {}", Describe(), why.ToString());
      SetState(ReceiverState::kStopping, "connection lost");
    }
    host_->OnClosed(this);
  };
  transport_->Start(std::move(cb));
}

std::string ReceiverSession::Describe() const {
  if (!hello_seen_) return peer_;
  return fmt::format("{} (standby '{}')", peer_, hello_.receiver_stone);
}

void ReceiverSession::SetState(ReceiverState s, std::string_view why) {
  if (s == state_) return;
  TS_LOG_INFO("logreceiver {}: {} -> {} ({})", Describe(), ToString(state_), ToString(s), why);
  state_ = s;
  host_->OnStateChanged(this);
}

void ReceiverSession::OnData(std::string_view bytes) {
  if (state_ == ReceiverState::kStopping) return;
  reader_.Feed(bytes);
  wire::Frame f;
  while (state_ != ReceiverState::kStopping) {
    wire::FrameReader::Result r = reader_.Next(&f);
    if (r == wire::FrameReader::Result::kNeedMore) return;
    if (r == wire::FrameReader::Result::kError) {
      Drop("it sent garbage: " + reader_.error().message());
      return;
    }
    last_received_ns_ = MonotonicNanos();  // a complete frame (wire::SilenceLimitMs)
    Status s = HandleFrame(f);
    if (!s.ok()) {
      Drop(s.message());
      return;
    }
  }
}

Status ReceiverSession::HandleFrame(const wire::Frame& f) {
  switch (f.type) {
    case wire::MsgType::kHello: {
      if (hello_seen_) return Status::Corruption("it sent a second Hello");
      Status s = wire::DecodeHello(f.body, &hello_);
      // Another protocol version decodes only as far as the version: the handshake
      // answers it with Refuse(protocol version), whatever follows.
      if (!s.ok() && s.code() != Status::Code::kNotSupported) {
        Refuse(
            {wire::RefuseCode::kBadHello, "the logreceiver's Hello is malformed: " + s.message()});
        return Status::OK();
      }
      hello_seen_ = true;
      host_->OnHello(this, hello_);
      return Status::OK();
    }
    case wire::MsgType::kAck: {
      if (!welcomed()) return Status::Corruption("it sent an Ack before it was welcomed");
      wire::Ack a;
      TRANSHIP_RETURN_IF_ERROR(wire::DecodeAck(f.body, &a));
      TRANSHIP_RETURN_IF_ERROR(OnAck(a));
      host_->OnSendable(this);
      return Status::OK();
    }
    case wire::MsgType::kKeepalive: {
      if (!hello_seen_) return Status::Corruption("it sent a Keepalive before its Hello");
      wire::Keepalive k;
      return wire::DecodeKeepalive(f.body, &k);
    }
    default:
      return Status::Corruption(fmt::format("it sent a {} frame, which only a logsender sends",
                                            wire::MsgTypeName(f.type)));
  }
}

Status ReceiverSession::OnAck(const wire::Ack& a) {
  if (cursor_.pos < a.durable) {
    return Status::Corruption(
        fmt::format("it acknowledged {} (TID {}), beyond what was sent to it ({})",
                    a.durable.ToString(), a.tid, cursor_.pos.ToString()));
  }
  if (acked_ && a.durable < acked_->pos) {
    // The end of a file's log switch and the start of the next file are the same place.
    bool same_place = acked_->pos.offset == 0 && a.durable.file_id + 1 == acked_->pos.file_id;
    if (same_place) return Status::OK();
    return Status::Corruption(fmt::format("its acknowledgement went back from {} to {}",
                                          acked_->pos.ToString(), a.durable.ToString()));
  }
  std::optional<Boundary> reached;
  while (!in_flight_.empty()) {
    const InFlight& f = in_flight_.front();
    bool exact = a.durable == f.end || a.durable == f.next;
    if (!exact && a.durable < f.end) break;  // inside this frame: it stays unacknowledged
    if (exact && a.tid != f.last_tid) {
      return Status::Corruption(
          fmt::format("it acknowledged TID {} at {}, but the record that ends there is TID {}",
                      a.tid, a.durable.ToString(), f.last_tid));
    }
    reached = Boundary{f.next, f.last_tid + 1, 0, f.last_commit_us};
    unacked_bytes_ -= f.raw;
    in_flight_.pop_front();
  }
  // Invariant 4: the acknowledged position is exactly what the receiver said.
  Boundary b = acked_.value_or(Boundary{});
  b.pos = a.durable;
  b.next_tid = a.tid + 1;
  if (reached) b.last_commit_us = reached->last_commit_us;
  acked_ = b;
  return Status::OK();
}

void ReceiverSession::Welcome(const wire::Welcome& w, const Boundary& start,
                              std::optional<Boundary> acked, const Lineage& lineage,
                              ReceiverState first) {
  cursor_ = start;
  acked_ = acked;
  lineage_ = lineage;
  std::string buf;
  wire::EncodeWelcome(&buf, w);
  Write(std::make_shared<const std::string>(std::move(buf)), MonotonicNanos());
  SetState(first, fmt::format("welcomed at {} (TID {}); the primary's durable end is {}",
                              start.pos.ToString(), start.next_tid, w.primary_end.pos.ToString()));
}

void ReceiverSession::Refuse(const wire::Refuse& r) {
  if (state_ == ReceiverState::kStopping) return;
  if (r.code == wire::RefuseCode::kShuttingDown) {
    TS_LOG_INFO("saying goodbye to the logreceiver {}: {}", Describe(), r.message);
  } else {
    // The same words the receiver logs, so both ends tell the same story.
    TS_LOG_WARN("refused the logreceiver {} ({}): {}", Describe(), wire::RefuseCodeName(r.code),
                r.message);
  }
  std::string buf;
  wire::EncodeRefuse(&buf, r);
  transport_->Write(std::move(buf));
  SetState(ReceiverState::kStopping, wire::RefuseCodeName(r.code));
  if (!closed_) transport_->Close(Status::Aborted(r.message));
}

void ReceiverSession::Drop(const std::string& why) {
  if (state_ == ReceiverState::kStopping) return;
  TS_LOG_WARN("dropping the logreceiver {}: {}", Describe(), why);
  SetState(ReceiverState::kStopping, "dropped");
  if (!closed_) transport_->Close(Status::Aborted(why));
}

bool ReceiverSession::CanSend(uint64_t now_ns, size_t window_bytes) {
  return welcomed() && !closed_ && !blocked_ && unacked_bytes_ < window_bytes &&
         bucket_.CanSend(now_ns);
}

void ReceiverSession::SendFrame(const std::shared_ptr<const BuiltFrame>& f, uint64_t now_ns) {
  assert(f->header.file_id == cursor_.pos.file_id && f->header.offset == cursor_.pos.offset);
  in_flight_.push_back(
      InFlight{f->end, f->next.pos, f->last_tid, f->last_commit_us, f->header.raw_length});
  unacked_bytes_ += f->header.raw_length;
  cursor_ = f->next;
  bucket_.Take(f->bytes->size(), now_ns);
  Write(f->bytes, now_ns);
}

void ReceiverSession::Jump(const Boundary& next, const Lineage& child) {
  assert(next.next_tid == cursor_.next_tid && next.chain == cursor_.chain);
  TS_LOG_INFO("logreceiver {}: the primary's history leaves lineage {} at {} (TID {}); "
              "going on at {}", Describe(), lineage_.ToHex(), cursor_.pos.ToString(),
              cursor_.next_tid - 1, next.pos.ToString());
  cursor_ = next;
  lineage_ = child;
}

void ReceiverSession::SendKeepalive(const DurableEnd& primary_end, uint64_t now_ns) {
  wire::Keepalive k;
  k.sent_us = NowMicros();
  k.primary_end = primary_end;
  std::string buf;
  wire::EncodeKeepalive(&buf, k);
  Write(std::make_shared<const std::string>(std::move(buf)), now_ns);
}

void ReceiverSession::Write(wire::SharedBuffer buf, uint64_t now_ns) {
  if (closed_) return;
  last_sent_ns_ = now_ns;
  if (!transport_->Write(std::move(buf))) blocked_ = true;
}

}  // namespace tranship::logsender
