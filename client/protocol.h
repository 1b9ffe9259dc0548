#pragma once
// The client protocol spoken on a stone's Unix socket: framing, message types and the
// encoders/decoders shared by the stone server, the C++ client library and the
// logsender (which subscribes to durable-end updates from its own libuv loop).
// The byte layout of every message is in docs/client-protocol.md.
//
// Every message is one frame:  body_length:fixed32  type:u8  request_id:fixed32  body
// Requests have types below 0x80; a reply has the request's type | 0x80 and echoes its
// request id; a DurableEnd push carries the id of the subscribe request it answers.
// Every reply body begins with a status code byte; a non-ok reply carries only a
// one-line message after it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "client/client.h"
#include "tranlog/commit.h"
#include "tranlog/types.h"

namespace tranship {
namespace client_protocol {

constexpr uint32_t kMagic = 0x50485354;  // "TSHP" read as little-endian bytes
// 2: archive notify (0x07) and the logreceiver fields of the info reply.
// 3: the restore fields of the info reply (restored position, restore flags).
constexpr uint16_t kProtocolVersion = 3;
constexpr size_t kFrameHeaderSize = 4 + 1 + 4;
// Largest body either side accepts. A frame announcing more closes the connection
// before a byte of it is buffered: memory stays bounded whatever a peer sends.
constexpr uint32_t kMaxBodySize = 16u << 20;
// Replies may be slightly larger than requests: a get reply adds its status and
// version to a value that a commit of at most kMaxBodySize carried in.
constexpr uint32_t kMaxReplyBodySize = kMaxBodySize + 4096;
constexpr uint8_t kReplyBit = 0x80;

enum class MsgType : uint8_t {
  kHello = 0x01,
  kGet = 0x02,
  kCommit = 0x03,
  kInfo = 0x04,
  kAdmin = 0x05,
  kSubscribe = 0x06,
  kArchiveNotify = 0x07,  // a logreceiver made archive records durable
  kHelloReply = 0x81,
  kGetReply = 0x82,
  kCommitReply = 0x83,
  kInfoReply = 0x84,
  kAdminReply = 0x85,
  kSubscribeReply = 0x86,
  kArchiveNotifyReply = 0x87,
  kDurableEnd = 0x90,  // server push after a subscribe
};
static_assert((static_cast<uint8_t>(MsgType::kHello) | kReplyBit) ==
              static_cast<uint8_t>(MsgType::kHelloReply));
static_assert((static_cast<uint8_t>(MsgType::kSubscribe) | kReplyBit) ==
              static_cast<uint8_t>(MsgType::kSubscribeReply));
static_assert((static_cast<uint8_t>(MsgType::kArchiveNotify) | kReplyBit) ==
              static_cast<uint8_t>(MsgType::kArchiveNotifyReply));

// The client name a logreceiver says hello with; the stone counts such connections.
inline constexpr std::string_view kLogreceiverClientName = "logreceiver";

bool IsKnownType(uint8_t type);
const char* TypeName(MsgType type);
inline MsgType ReplyTypeFor(MsgType request) {
  return static_cast<MsgType>(static_cast<uint8_t>(request) | kReplyBit);
}

struct Frame {
  MsgType type = MsgType::kHello;
  uint32_t request_id = 0;
  std::string_view body;  // borrowed from the FrameReader's buffer
};

// Incremental frame decoder: feed bytes as they arrive, take whole frames out.
// Reading straight into the buffer (PrepareWrite + CommitWrite) avoids a copy; the
// caller reads as much as is available per system call and then takes every complete
// frame. The header is checked (known type, body length <= max) before the buffer
// grows to hold the body.
class FrameReader {
 public:
  enum class Next { kFrame, kNeedMore, kError };

  explicit FrameReader(uint32_t max_body = kMaxBodySize);

  // Room for at least `min` more bytes (more when a large frame is partly buffered).
  // Invalidates the bodies of frames returned so far.
  std::span<char> PrepareWrite(size_t min);
  // `n` bytes were written at the start of the last PrepareWrite span.
  void CommitWrite(size_t n);
  // Copying convenience for callers that already hold the bytes.
  void Feed(std::string_view bytes);

  // kFrame: *out holds the next frame, its body valid until the next PrepareWrite/Feed.
  // kNeedMore: no complete frame buffered. kError: the stream is garbage (error() says
  // why) and stays in error; the connection must be closed.
  Next Read(Frame* out);
  const Status& error() const { return error_; }
  size_t buffered() const { return end_ - start_; }

 private:
  void Compact();

  uint32_t max_body_;
  std::string buf_;   // bytes [start_, end_) are received and not yet returned
  size_t start_ = 0;
  size_t end_ = 0;
  Status error_;
};

// ---- Requests (client -> server) ----
// Encoders append one whole frame to *dst. They do not enforce the size limits: a
// sender checks the size of the frame it built before sending it.

struct HelloRequest {
  uint32_t magic = 0;
  uint16_t protocol_version = 0;
  std::string_view client_name;
};

void EncodeHello(std::string* dst, uint32_t id, std::string_view client_name);
void EncodeGet(std::string* dst, uint32_t id, std::string_view key);
void EncodeCommit(std::string* dst, uint32_t id, const TxnRequest& txn);
void EncodeInfo(std::string* dst, uint32_t id);
void EncodeAdmin(std::string* dst, uint32_t id, std::string_view verb,
                 const std::vector<std::string>& args);
void EncodeSubscribe(std::string* dst, uint32_t id);
// `end` is the durable end of the logreceiver's archive directory.
void EncodeArchiveNotify(std::string* dst, uint32_t id, const DurableEnd& end);

// Decoders return Corruption naming the message when the body is malformed.
Status DecodeHello(std::string_view body, HelloRequest* out);
Status DecodeGet(std::string_view body, std::string_view* key);
Status DecodeCommit(std::string_view body, TxnRequest* out);
Status DecodeAdmin(std::string_view body, std::string* verb, std::vector<std::string>* args);
// Info and Subscribe have empty bodies.
Status DecodeEmpty(std::string_view body, MsgType type);
Status DecodeArchiveNotify(std::string_view body, DurableEnd* end);

// ---- Replies and pushes (server -> client) ----

struct HelloReply {
  uint16_t protocol_version = 0;
  std::string server_version;
  std::string stone_name;
};

// A non-ok reply to a request of type `request`: status code + message only.
void EncodeErrorReply(std::string* dst, MsgType request, uint32_t id, const Status& status);
void EncodeHelloReply(std::string* dst, uint32_t id, const HelloReply& reply);
void EncodeGetReply(std::string* dst, uint32_t id, const ReadResult& result);
void EncodeCommitReply(std::string* dst, uint32_t id, uint64_t tid);
void EncodeInfoReply(std::string* dst, uint32_t id, const StoneInfo& info);
void EncodeAdminReply(std::string* dst, uint32_t id, std::string_view text);
void EncodeSubscribeReply(std::string* dst, uint32_t id);
void EncodeArchiveNotifyReply(std::string* dst, uint32_t id);
void EncodeDurableEnd(std::string* dst, uint32_t subscribe_id, const DurableEnd& end);

// Reply decoders return the server's status when the reply is an error, Corruption
// when the body is malformed, ok with *out filled otherwise.
Status DecodeHelloReply(std::string_view body, HelloReply* out);
Status DecodeGetReply(std::string_view body, ReadResult* out);
Status DecodeCommitReply(std::string_view body, uint64_t* tid);
Status DecodeInfoReply(std::string_view body, StoneInfo* out);
Status DecodeAdminReply(std::string_view body, std::string* text);
Status DecodeSubscribeReply(std::string_view body);
Status DecodeArchiveNotifyReply(std::string_view body);
Status DecodeDurableEnd(std::string_view body, DurableEnd* out);

}  // namespace client_protocol
}  // namespace tranship
