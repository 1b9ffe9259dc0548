#pragma once
// The shipping protocol between a logsender (on the primary) and its logreceivers (on
// the standbys). The byte layout of every message is in docs/protocol.md; keep the two
// in step.
//
// A connection carries frames:  length:fixed32  type:u8  body
// where `length` counts the type byte and the body. The receiver opens with Hello; the
// sender answers Welcome (then Data frames follow) or Refuse (then it closes). The
// receiver acknowledges what it has made durable with Ack; both sides send Keepalive
// when they have nothing else to say, and drop a peer that stays silent too long.
//
// Rules that span both ends:
//  - A Data frame carries whole records (a record is never split across two frames),
//    starting at a record boundary of one tranlog file; at offset 0 it starts with the
//    file's 72-byte header. Its payload is zstd-compressed when flagged.
//  - Data frames for one connection are contiguous: each starts where the previous
//    ended, or at offset 0 of the next file after a log switch.
//  - The sender ships only what is durable on the primary, and never counts a position
//    as acknowledged before the receiver's Ack says it is durable there.
//  - Every length is checked against a maximum before anything is allocated; a frame
//    that breaks a rule closes that connection only.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tranlog/format.h"
#include "tranlog/types.h"

namespace tranship::wire {

inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr char kHelloMagic[4] = {'T', 'S', 'H', 'P'};
inline constexpr size_t kFrameHeaderSize = 5;
// The most bytes of records one Data frame carries. A record is never split, so this
// is the tranlog's record limit.
inline constexpr uint32_t kMaxDataRaw = tranlog::kMaxRecordSize;
// Frames a sender accepts from a receiver (Hello, Ack, Keepalive) are small: an
// unauthenticated peer can make the sender buffer at most this much.
inline constexpr uint32_t kMaxReceiverFrame = 4096;
// Frames a receiver accepts from its sender: a Data frame of kMaxDataRaw bytes that
// zstd could not shrink, plus its header.
inline constexpr uint32_t kMaxSenderFrame = kMaxDataRaw + (kMaxDataRaw >> 7) + 4096;
inline constexpr uint32_t kMaxNameLength = 255;
inline constexpr uint32_t kMaxRefuseMessage = 2048;
// Frames a receiver accepts before the Welcome (Welcome, Refuse, Keepalive) are small
// too: whatever answers its connection can make it buffer at most this much until the
// sender has proven to be one.
inline constexpr uint32_t kMaxSenderHandshakeFrame = 3072;
static_assert(kMaxSenderHandshakeFrame > kMaxRefuseMessage + 2 * kMaxNameLength + 64);

enum class MsgType : uint8_t {
  kHello = 1,      // receiver -> sender, first frame
  kWelcome = 2,    // sender -> receiver
  kRefuse = 3,     // sender -> receiver, then the sender closes
  kData = 4,       // sender -> receiver
  kAck = 5,        // receiver -> sender
  kKeepalive = 6,  // both ways
};
const char* MsgTypeName(MsgType t);

// Where a receiver wants the stream to start.
enum class StartMode : uint8_t {
  kResume = 1,     // continue after `resume` (the durable end of its archive)
  kFromStart = 2,  // empty archive: from the start of tranlog 1
  kAfterTid = 3,   // empty archive: after record `resume_tid` (chain `resume_chain`),
                   // where the standby stone's restored state ends
};

struct Hello {
  uint16_t version = kProtocolVersion;
  std::string receiver_stone;   // the standby stone this receiver feeds
  std::string receiver_host;    // for the sender's logs and status
  StartMode mode = StartMode::kFromStart;
  Lineage lineage;              // lineage of the receiver's last record (kResume)
  Position resume;              // kResume: the archive's durable end
  uint64_t resume_tid = 0;      // TID of the last record before `resume`
  uint64_t resume_chain = 0;    // chain value of that record
};

struct Welcome {
  uint16_t version = kProtocolVersion;
  std::string sender_stone;     // the primary stone
  Position start;               // where the first Data frame will start
  DurableEnd primary_end;       // the primary's durable end now
  uint32_t keepalive_ms = 0;    // the sender's keepalive interval
  uint32_t timeout_ms = 0;      // silence after which either side drops the other
};

enum class RefuseCode : uint8_t {
  kTooManyReceivers = 1,  // the limit is 5
  kForkInTime = 2,        // the receiver's position/chain is not in this history
  kTranlogGone = 3,       // a tranlog the receiver needs is no longer on the primary
  kProtocolVersion = 4,
  kBadHello = 5,
  kTlsRequired = 6,       // sent in plaintext by a TLS sender to a plaintext receiver
  kShuttingDown = 7,
};
const char* RefuseCodeName(RefuseCode c);

struct Refuse {
  RefuseCode code = RefuseCode::kBadHello;
  std::string message;  // plain words for both logs: what is wrong and what to do
};

inline constexpr uint8_t kDataZstd = 0x01;  // payload is one zstd frame

struct DataHeader {
  uint64_t file_id = 0;
  uint64_t offset = 0;      // file offset of the first raw byte
  uint32_t raw_length = 0;  // bytes of file content (header and/or records)
  uint8_t flags = 0;
};

struct Ack {
  Position durable;         // the receiver's archive is durable up to here
  uint64_t tid = 0;         // TID of the last record before `durable`
};

struct Keepalive {
  uint64_t sent_us = 0;       // sender's wall clock
  DurableEnd primary_end;     // from the sender: the primary's durable end (for lag)
};

// ---- encoding: each appends one whole frame to *dst ----
void EncodeHello(std::string* dst, const Hello& m);
void EncodeWelcome(std::string* dst, const Welcome& m);
void EncodeRefuse(std::string* dst, const Refuse& m);
// `payload` is the (possibly compressed) file content.
void EncodeData(std::string* dst, const DataHeader& h, std::string_view payload);
void EncodeAck(std::string* dst, const Ack& m);
void EncodeKeepalive(std::string* dst, const Keepalive& m);

// ---- decoding ----
struct Frame {
  MsgType type = MsgType::kHello;
  std::string_view body;  // borrowed from the FrameReader
};

// Incremental frame decoder: Feed() bytes as they arrive, Next() whole frames out. The
// length and type are checked before the body is buffered.
class FrameReader {
 public:
  enum class Result { kFrame, kNeedMore, kError };
  explicit FrameReader(uint32_t max_frame)
      : max_frame_(max_frame),
        peer_kind_(max_frame == kMaxReceiverFrame ? "logreceiver" : "logsender") {}
  // A new limit for the frames after the current one (the receiver's, once welcomed).
  void SetMaxFrame(uint32_t max_frame) { max_frame_ = max_frame; }
  void Feed(std::string_view bytes);
  // kFrame: *out is valid until the next Feed(). kError: error() says why; the
  // connection must be closed.
  Result Next(Frame* out);
  const Status& error() const { return error_; }
  size_t buffered() const { return buf_.size() - start_; }
  // The length field of the frame being received (its header is in hand, not all of its
  // body), or 0 between frames.
  uint32_t pending_length() const;

 private:
  uint32_t max_frame_;
  const char* peer_kind_;  // what the peer should be, for the error message
  std::string buf_;
  size_t start_ = 0;
  Status error_;
};

// The silence after which a peer is dropped (docs/protocol.md, Keepalives and timeouts):
// the clock restarts at each complete frame, not at each byte, so that a damaged length
// field on a plaintext link (the rest of the stream trickling into a frame that never
// ends) cannot hold a link open. A frame still arriving extends the timeout by the time
// its length needs at kSlowestLinkBytesPerS: a link slower than 64 KiB/s in the middle of
// a large frame is taken for dead (the largest Data frame then has 17 minutes).
inline constexpr uint64_t kSlowestLinkBytesPerS = 64 << 10;
inline uint64_t SilenceLimitMs(uint64_t timeout_ms, uint32_t pending_length) {
  return timeout_ms + uint64_t{pending_length} * 1000 / kSlowestLinkBytesPerS;
}

// Body decoders: Corruption naming the message and field when malformed.
Status DecodeHello(std::string_view body, Hello* m);
Status DecodeWelcome(std::string_view body, Welcome* m);
Status DecodeRefuse(std::string_view body, Refuse* m);
// *payload borrows from `body`.
Status DecodeData(std::string_view body, DataHeader* h, std::string_view* payload);
Status DecodeAck(std::string_view body, Ack* m);
Status DecodeKeepalive(std::string_view body, Keepalive* m);

}  // namespace tranship::wire
