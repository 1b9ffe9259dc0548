#include "wire/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "base/coding.h"
#include "tranlog/codec.h"

namespace tranship::wire {
namespace {

// A buffer that held one big frame is given back once that frame is consumed, so an
// idle connection keeps at most this much.
constexpr size_t kIdleBufferSize = 64 << 10;
constexpr size_t kDurableEndSize = kDurableEndEncodedSize;
constexpr uint8_t kKnownDataFlags = kDataZstd;

// Appends the frame header with a zero length; EndFrame patches the length in.
size_t BeginFrame(std::string* dst, MsgType type) {
  size_t start = dst->size();
  PutFixed32(dst, 0);                         // length: type byte + body, patched below
  dst->push_back(static_cast<char>(type));    // type
  return start;
}

void EndFrame(std::string* dst, size_t start) {
  size_t length = dst->size() - start - 4;
  // Wrapping around would turn an oversize frame into a short one; senders check the
  // limits themselves, this catches one that forgot.
  assert(length <= UINT32_MAX);
  EncodeFixed32(reinterpret_cast<uint8_t*>(dst->data() + start), static_cast<uint32_t>(length));
}

// Strings are bounded on both ends: an encoder never writes what the decoder refuses.
void PutBoundedString(std::string* dst, std::string_view s, size_t max) {
  PutLengthPrefixed(dst, s.substr(0, max));
}


bool GetString(Decoder* d, std::string* s, size_t max) {
  std::string_view v;
  if (!d->GetLengthPrefixed(&v, max)) return false;
  s->assign(v);
  return true;
}

Status Malformed(const char* msg, const char* field) {
  return Status::Corruption(fmt::format("malformed {} frame: bad {}", msg, field));
}
Status WrongSize(const char* msg, size_t got, size_t want) {
  return Status::Corruption(
      fmt::format("malformed {} frame: {} body bytes, expected {}", msg, got, want));
}

bool IsKnownType(uint8_t t) {
  return t >= static_cast<uint8_t>(MsgType::kHello) &&
         t <= static_cast<uint8_t>(MsgType::kKeepalive);
}

}  // namespace

const char* MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kHello: return "Hello";
    case MsgType::kWelcome: return "Welcome";
    case MsgType::kRefuse: return "Refuse";
    case MsgType::kData: return "Data";
    case MsgType::kAck: return "Ack";
    case MsgType::kKeepalive: return "Keepalive";
  }
  return "unknown";
}

const char* RefuseCodeName(RefuseCode c) {
  switch (c) {
    case RefuseCode::kTooManyReceivers: return "too many receivers";
    case RefuseCode::kForkInTime: return "fork in time";
    case RefuseCode::kTranlogGone: return "tranlog gone";
    case RefuseCode::kProtocolVersion: return "protocol version";
    case RefuseCode::kBadHello: return "bad hello";
    case RefuseCode::kTlsRequired: return "TLS required";
    case RefuseCode::kShuttingDown: return "shutting down";
  }
  return "unknown";
}

// ---- encoders ----

void EncodeHello(std::string* dst, const Hello& m) {
  size_t f = BeginFrame(dst, MsgType::kHello);
  dst->append(kHelloMagic, sizeof(kHelloMagic));                 // magic "TSHP"
  PutFixed16(dst, m.version);                                    // protocol version
  PutBoundedString(dst, m.receiver_stone, kMaxNameLength);       // standby stone name
  PutBoundedString(dst, m.receiver_host, kMaxNameLength);        // receiver's host name
  dst->push_back(static_cast<char>(m.mode));                     // StartMode
  PutLineage(dst, m.lineage);                                    // lineage of the last record
  PutPosition(dst, m.resume);                                    // resume position
  PutFixed64(dst, m.resume_tid);                                 // TID before `resume`
  PutFixed64(dst, m.resume_chain);                               // chain of that record
  EndFrame(dst, f);
}

void EncodeWelcome(std::string* dst, const Welcome& m) {
  size_t f = BeginFrame(dst, MsgType::kWelcome);
  PutFixed16(dst, m.version);                                    // protocol version
  PutBoundedString(dst, m.sender_stone, kMaxNameLength);         // primary stone name
  PutPosition(dst, m.start);                                     // first Data frame's position
  PutDurableEnd(dst, m.primary_end);                             // primary's durable end
  PutFixed32(dst, m.keepalive_ms);                               // sender's keepalive interval
  PutFixed32(dst, m.timeout_ms);                                 // silence timeout, both ways
  EndFrame(dst, f);
}

void EncodeRefuse(std::string* dst, const Refuse& m) {
  size_t f = BeginFrame(dst, MsgType::kRefuse);
  dst->push_back(static_cast<char>(m.code));                     // RefuseCode
  PutBoundedString(dst, m.message, kMaxRefuseMessage);           // one line for both logs
  EndFrame(dst, f);
}

void EncodeData(std::string* dst, const DataHeader& h, std::string_view payload) {
  size_t f = BeginFrame(dst, MsgType::kData);
  PutFixed64(dst, h.file_id);                                    // tranlog file id
  PutFixed64(dst, h.offset);                                     // offset of the first raw byte
  PutFixed32(dst, h.raw_length);                                 // raw (uncompressed) bytes
  dst->push_back(static_cast<char>(h.flags));                    // kDataZstd
  dst->append(payload);                                          // rest of the frame
  EndFrame(dst, f);
}

void EncodeAck(std::string* dst, const Ack& m) {
  size_t f = BeginFrame(dst, MsgType::kAck);
  PutPosition(dst, m.durable);                                   // archive durable up to here
  PutFixed64(dst, m.tid);                                        // TID of the record before it
  EndFrame(dst, f);
}

void EncodeKeepalive(std::string* dst, const Keepalive& m) {
  size_t f = BeginFrame(dst, MsgType::kKeepalive);
  PutFixed64(dst, m.sent_us);                                    // sender's wall clock, µs
  PutDurableEnd(dst, m.primary_end);                             // zero from a receiver
  EndFrame(dst, f);
}

// ---- decoders ----

// Mirrors EncodeHello. The magic and version come first and are checked before the
// rest, so that a Hello of another version gets a clear refusal whatever its layout.
Status DecodeHello(std::string_view body, Hello* m) {
  Decoder d(AsBytes(body));
  std::string_view magic;
  if (!d.GetBytes(sizeof(kHelloMagic), &magic) ||
      magic != std::string_view(kHelloMagic, sizeof(kHelloMagic))) {
    return Status::Corruption("malformed Hello frame: not a tranship logreceiver (bad magic)");
  }
  if (!d.GetFixed16(&m->version)) return Malformed("Hello", "version");
  if (m->version != kProtocolVersion) {
    return Status::NotSupported(fmt::format(
        "the logreceiver speaks protocol version {}, this logsender speaks version {}; "
        "run the same tranship version on both hosts",
        m->version, kProtocolVersion));
  }
  if (!GetString(&d, &m->receiver_stone, kMaxNameLength)) return Malformed("Hello", "stone name");
  if (!GetString(&d, &m->receiver_host, kMaxNameLength)) return Malformed("Hello", "host name");
  uint8_t mode;
  if (!d.GetU8(&mode)) return Malformed("Hello", "start mode");
  if (mode < static_cast<uint8_t>(StartMode::kResume) ||
      mode > static_cast<uint8_t>(StartMode::kAfterTid)) {
    return Malformed("Hello", "start mode");
  }
  m->mode = static_cast<StartMode>(mode);
  constexpr size_t kRest = 16 + 16 + 8 + 8;
  if (d.remaining() != kRest) {
    return WrongSize("Hello", body.size(), body.size() - d.remaining() + kRest);
  }
  if (!GetLineage(&d, &m->lineage) || !GetPosition(&d, &m->resume) ||
      !d.GetFixed64(&m->resume_tid) || !d.GetFixed64(&m->resume_chain)) {
    return Malformed("Hello", "resume position");
  }
  return Status::OK();
}

// Mirrors EncodeWelcome.
Status DecodeWelcome(std::string_view body, Welcome* m) {
  Decoder d(AsBytes(body));
  if (!d.GetFixed16(&m->version)) return Malformed("Welcome", "version");
  if (m->version != kProtocolVersion) {
    return Status::NotSupported(fmt::format(
        "the logsender speaks protocol version {}, this logreceiver speaks version {}; "
        "run the same tranship version on both hosts",
        m->version, kProtocolVersion));
  }
  if (!GetString(&d, &m->sender_stone, kMaxNameLength)) return Malformed("Welcome", "stone name");
  constexpr size_t kRest = 16 + kDurableEndSize + 4 + 4;
  if (d.remaining() != kRest) {
    return WrongSize("Welcome", body.size(), body.size() - d.remaining() + kRest);
  }
  if (!GetPosition(&d, &m->start) || !GetDurableEnd(&d, &m->primary_end) ||
      !d.GetFixed32(&m->keepalive_ms) || !d.GetFixed32(&m->timeout_ms)) {
    return Malformed("Welcome", "position");
  }
  return Status::OK();
}

// Mirrors EncodeRefuse. An unknown code is kept (a newer sender may have more reasons);
// the message is what both logs show.
Status DecodeRefuse(std::string_view body, Refuse* m) {
  Decoder d(AsBytes(body));
  uint8_t code;
  if (!d.GetU8(&code)) return Malformed("Refuse", "code");
  m->code = static_cast<RefuseCode>(code);
  if (!GetString(&d, &m->message, kMaxRefuseMessage)) return Malformed("Refuse", "message");
  if (!d.done()) return Malformed("Refuse", "length (bytes after the message)");
  return Status::OK();
}

// Mirrors EncodeData.
Status DecodeData(std::string_view body, DataHeader* h, std::string_view* payload) {
  Decoder d(AsBytes(body));
  if (!d.GetFixed64(&h->file_id) || !d.GetFixed64(&h->offset) || !d.GetFixed32(&h->raw_length) ||
      !d.GetU8(&h->flags)) {
    return WrongSize("Data", body.size(), 21);
  }
  if (h->file_id == 0) return Malformed("Data", "file id 0");
  if (h->raw_length == 0 || h->raw_length > kMaxDataRaw) {
    return Status::Corruption(fmt::format(
        "malformed Data frame: {} raw bytes (the limit is {})", h->raw_length, kMaxDataRaw));
  }
  if ((h->flags & ~kKnownDataFlags) != 0) {
    return Status::Corruption(fmt::format("malformed Data frame: unknown flags {:#x}", h->flags));
  }
  *payload = body.substr(body.size() - d.remaining());
  if ((h->flags & kDataZstd) == 0 && payload->size() != h->raw_length) {
    return Status::Corruption(fmt::format(
        "malformed Data frame: {} payload bytes for {} raw bytes", payload->size(), h->raw_length));
  }
  if (payload->empty()) return Malformed("Data", "payload (empty)");
  return Status::OK();
}

// Mirrors EncodeAck.
Status DecodeAck(std::string_view body, Ack* m) {
  if (body.size() != 24) return WrongSize("Ack", body.size(), 24);
  Decoder d(AsBytes(body));
  if (!GetPosition(&d, &m->durable) || !d.GetFixed64(&m->tid)) return Malformed("Ack", "position");
  return Status::OK();
}

// Mirrors EncodeKeepalive.
Status DecodeKeepalive(std::string_view body, Keepalive* m) {
  if (body.size() != 8 + kDurableEndSize) {
    return WrongSize("Keepalive", body.size(), 8 + kDurableEndSize);
  }
  Decoder d(AsBytes(body));
  if (!d.GetFixed64(&m->sent_us) || !GetDurableEnd(&d, &m->primary_end)) {
    return Malformed("Keepalive", "durable end");
  }
  return Status::OK();
}

// ---- FrameReader ----

void FrameReader::Feed(std::string_view bytes) {
  if (!error_.ok()) return;  // the connection is being closed; keep nothing
  // Frames returned by Next() stay valid until here: now the consumed prefix can go.
  if (start_ > 0) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  // The big frame that grew the buffer is consumed: give the memory back.
  if (buf_.empty() && buf_.capacity() > kIdleBufferSize) std::string().swap(buf_);
  // A frame whose header is buffered and valid: grow once to hold exactly all of it,
  // rather than by doubling (which could hold twice the largest frame).
  if (buf_.size() >= kFrameHeaderSize) {
    uint32_t length = DecodeFixed32(reinterpret_cast<const uint8_t*>(buf_.data()));
    if (length != 0 && length <= max_frame_) {
      buf_.reserve(std::max(buf_.size() + bytes.size(), size_t{4} + length));
    }
  }
  buf_.append(bytes);
  // Check the next frame's header at once, so that a bad one costs no more buffer
  // than the bytes in hand.
  Frame unused;
  size_t keep = start_;
  if (Next(&unused) == Result::kFrame) start_ = keep;  // leave it for the caller
}

uint32_t FrameReader::pending_length() const {
  if (!error_.ok() || buf_.size() - start_ < kFrameHeaderSize) return 0;
  return DecodeFixed32(reinterpret_cast<const uint8_t*>(buf_.data() + start_));
}

FrameReader::Result FrameReader::Next(Frame* out) {
  if (!error_.ok()) return Result::kError;
  size_t avail = buf_.size() - start_;
  if (avail < kFrameHeaderSize) return Result::kNeedMore;
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + start_);
  uint32_t length = DecodeFixed32(p);
  uint8_t type = p[4];
  if (length == 0 || length > max_frame_) {
    error_ = Status::Corruption(
        fmt::format("frame length {} out of range (1..{}): the peer is not a tranship {} or "
                    "its stream is damaged",
                    length, max_frame_, peer_kind_));
  } else if (!IsKnownType(type)) {
    error_ = Status::Corruption(fmt::format("unknown frame type {}", type));
  }
  if (!error_.ok()) {
    std::string().swap(buf_);
    start_ = 0;
    return Result::kError;
  }
  if (avail - 4 < length) return Result::kNeedMore;
  out->type = static_cast<MsgType>(type);
  out->body = std::string_view(buf_.data() + start_ + kFrameHeaderSize, length - 1);
  start_ += 4 + length;
  return Result::kFrame;
}

}  // namespace tranship::wire
