// The frames a receiver reads from the logsender: Welcome (where the stream starts),
// Refuse (why not), Data (records, checked here, then held for archive_writes.cc to
// write and make durable; the Ack follows the fdatasync).
#include <fmt/format.h>

#include "base/log.h"
#include "logreceiver/receiver.h"
#include "logreceiver/start_point.h"

namespace tranship::logreceiver {

Status LogReceiver::HandleFrame(const wire::Frame& f) {
  switch (f.type) {
    case wire::MsgType::kWelcome: return HandleWelcome(f.body);
    case wire::MsgType::kRefuse: return HandleRefuse(f.body);
    case wire::MsgType::kData:
      if (!welcomed_) return Status::Corruption("a data frame before the welcome");
      return HandleData(f.body);
    case wire::MsgType::kKeepalive: {
      wire::Keepalive k;
      TRANSHIP_RETURN_IF_ERROR(wire::DecodeKeepalive(f.body, &k));
      if (welcomed_) primary_end_ = k.primary_end;
      return Status::OK();
    }
    default:
      return Status::Corruption(fmt::format("the logsender at {} sent a {} message", peer_,
                                            wire::MsgTypeName(f.type)));
  }
}

Status LogReceiver::HandleWelcome(std::string_view body) {
  if (welcomed_) return Status::Corruption("a second welcome");
  wire::Welcome w;
  TRANSHIP_RETURN_IF_ERROR(wire::DecodeWelcome(body, &w));
  const StreamEnd& end = archive_.durable_end();
  // A start at offset 0 of a later file is a junction: CheckChunk checks that file's
  // header against the archive's end.
  bool junction = w.start.offset == 0 && w.start.file_id > end.pos.file_id;
  if (!archive_.empty() && w.start != end.pos && !junction) {
    return Status::Corruption(fmt::format(
        "the logsender would start at {} but the archive ends at {}", w.start.ToString(),
        end.pos.ToString()));
  }
  welcomed_ = true;
  reader_.SetMaxFrame(wire::kMaxSenderFrame);
  primary_end_ = w.primary_end;
  primary_known_ = true;
  if (w.keepalive_ms > 0) keepalive_ms_ = std::min(opts_.keepalive_ms, w.keepalive_ms);
  // Either side drops a peer silent for the longer of the two timeouts: the sender
  // keeps quiet for up to its keepalive interval by design.
  timeout_ms_ = std::max(opts_.timeout_ms, w.timeout_ms);
  backoff_ms_ = opts_.min_backoff_ms;
  retry_ = Retry::kBackoff;
  TS_LOG_INFO("the logsender at {} (primary stone '{}') welcomed this receiver: streaming "
              "from {}; the primary's durable end is {} (TID {})",
              peer_, w.sender_stone, w.start.ToString(), w.primary_end.pos.ToString(),
              w.primary_end.tid);
  // After a full disk the state says so until a write succeeds, unless there is
  // nothing to write.
  if (state_ != State::kDiskFull || primary_end_.pos == end.pos) {
    SetState(State::kStreaming, peer_);
    last_error_.clear();
  }
  return Status::OK();
}

Status LogReceiver::HandleRefuse(std::string_view body) {
  wire::Refuse r;
  TRANSHIP_RETURN_IF_ERROR(wire::DecodeRefuse(body, &r));
  std::string what;
  switch (r.code) {
    case wire::RefuseCode::kForkInTime:
    case wire::RefuseCode::kTranlogGone:
      retry_ = Retry::kRefusedSlow;
      what = fmt::format("retrying only every {} s: an operator must reseed this standby "
                         "from a new backup of the primary", opts_.refused_retry_ms / 1000);
      break;
    case wire::RefuseCode::kProtocolVersion:
    case wire::RefuseCode::kBadHello:
    case wire::RefuseCode::kTlsRequired:
      retry_ = Retry::kRefusedSlow;
      what = fmt::format("retrying every {} s", opts_.refused_retry_ms / 1000);
      break;
    case wire::RefuseCode::kTooManyReceivers:
    case wire::RefuseCode::kShuttingDown:
      retry_ = Retry::kBackoff;
      what = "retrying with backoff";
      break;
  }
  last_error_ = fmt::format("refused ({}): {}", wire::RefuseCodeName(r.code), r.message);
  TS_LOG_ERROR("the logsender at {} refused this receiver ({}): {} -- {}", peer_,
               wire::RefuseCodeName(r.code), r.message, what);
  SetState(State::kRefused, wire::RefuseCodeName(r.code));
  dropping_ = true;
  transport_->Close(Status::Aborted("refused"));
  return Status::OK();
}

Status LogReceiver::HandleData(std::string_view body) {
  wire::DataHeader h;
  std::string_view payload;
  TRANSHIP_RETURN_IF_ERROR(wire::DecodeData(body, &h, &payload));
  std::string name = archive_.FileName(h.file_id);
  if (h.raw_length > wire::kMaxDataRaw) {
    return Status::Corruption(fmt::format("{} offset {}: a data frame of {} bytes", name,
                                          h.offset, h.raw_length));
  }
  std::string_view raw;
  if (h.flags & wire::kDataZstd) {
    Status s = decompressor_.Decompress(payload, h.raw_length, &raw_);
    if (!s.ok()) {
      return Status::Corruption(fmt::format("{} offset {}: {}", name, h.offset, s.message()));
    }
    raw = raw_;
  } else {
    if (payload.size() != h.raw_length) {
      return Status::Corruption(fmt::format("{} offset {}: {} bytes where {} were announced",
                                            name, h.offset, payload.size(), h.raw_length));
    }
    raw = payload;
  }
  StreamEnd after = CheckedEnd();
  TRANSHIP_RETURN_IF_ERROR(CheckChunk(name, h.file_id, h.offset, raw, &after));
  // The frame is kept until a write job takes it: the decompressed buffer itself, or a
  // copy of the frame's body (which the transport's buffer holds only until we return).
  std::string bytes;
  if (raw.data() == raw_.data()) {
    bytes.swap(raw_);
    raw_ = TakeSpare();
  } else {
    bytes = TakeSpare();
    bytes.assign(raw);
  }
  pending_bytes_ += bytes.size();
  pending_.push_back(HeldChunk{h.file_id, h.offset, std::move(bytes), after});
  if (pending_bytes_ + WritingBytes() >= kMaxHeldBytes && !read_paused_) {
    read_paused_ = true;
    transport_->PauseReading();
  }
  return Status::OK();
}

}  // namespace tranship::logreceiver
