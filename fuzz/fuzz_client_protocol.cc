// Fuzz target: the client protocol on a stone's Unix socket (client/protocol.h):
// the frames a stone reads from any local client, and the replies a client (the CLI,
// the logsender, the logreceiver) reads from a stone.
//
// Input: one control byte, then the bytes on the socket.
//   control bit 0: 0 = the stone reading requests (limit kMaxBodySize),
//                  1 = a client reading replies and pushes (limit kMaxReplyBodySize)
//   control bit 1: 0 = bytes arrive through Feed(), 1 = read straight into the buffer
//                  (PrepareWrite/CommitWrite, as the stone's connection does)
//   control bits 2..7: n; the stream arrives in pieces of 4^(n % 8) bytes
// Every frame is decoded by its type. A request that decodes must encode back to the
// same request; the entries kept follow what decoded, whatever the counts inside say.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "client/protocol.h"
#include "fuzz/check.h"

namespace tranship::client_protocol {
namespace {

std::string_view Body(const std::string& frame) {
  return std::string_view(frame).substr(kFrameHeaderSize);
}

// Memory follows what decoded, never a count the peer sent: at most the first 1024
// entries reserved ahead, then the vector's own doubling.
template <typename V>
bool Bounded(const V& v) {
  return v.capacity() <= std::max<size_t>(1024, 2 * v.size());
}

bool SameTxn(const TxnRequest& a, const TxnRequest& b) {
  if (a.reads.size() != b.reads.size() || a.writes.size() != b.writes.size()) return false;
  for (size_t i = 0; i < a.reads.size(); i++) {
    if (a.reads[i].key != b.reads[i].key || a.reads[i].version != b.reads[i].version) return false;
  }
  for (size_t i = 0; i < a.writes.size(); i++) {
    if (a.writes[i].kind != b.writes[i].kind || a.writes[i].key != b.writes[i].key ||
        a.writes[i].value != b.writes[i].value) {
      return false;
    }
  }
  return true;
}

void Request(const Frame& f) {
  switch (f.type) {
    case MsgType::kHello: {
      HelloRequest h;
      if (!DecodeHello(f.body, &h).ok()) break;
      std::string e;
      EncodeHello(&e, f.request_id, h.client_name);
      HelloRequest h2;
      FUZZ_CHECK(DecodeHello(Body(e), &h2).ok() && h2.client_name == h.client_name);
      break;
    }
    case MsgType::kGet: {
      std::string_view key;
      if (!DecodeGet(f.body, &key).ok()) break;
      std::string e;
      EncodeGet(&e, f.request_id, key);
      std::string_view key2;
      FUZZ_CHECK(DecodeGet(Body(e), &key2).ok() && key2 == key);
      break;
    }
    case MsgType::kCommit: {
      TxnRequest t;
      Status s = DecodeCommit(f.body, &t);
      FUZZ_CHECK(Bounded(t.reads) && Bounded(t.writes));
      if (!s.ok()) break;
      FUZZ_CHECK(t.reads.size() + t.writes.size() <= f.body.size());
      std::string e;
      EncodeCommit(&e, f.request_id, t);
      TxnRequest t2;
      FUZZ_CHECK(DecodeCommit(Body(e), &t2).ok() && SameTxn(t, t2));
      break;
    }
    case MsgType::kAdmin: {
      std::string verb;
      std::vector<std::string> args;
      Status s = DecodeAdmin(f.body, &verb, &args);
      FUZZ_CHECK(Bounded(args));
      if (!s.ok()) break;
      FUZZ_CHECK(args.size() <= f.body.size());
      std::string e;
      EncodeAdmin(&e, f.request_id, verb, args);
      std::string verb2;
      std::vector<std::string> args2;
      FUZZ_CHECK(DecodeAdmin(Body(e), &verb2, &args2).ok() && verb2 == verb && args2 == args);
      break;
    }
    case MsgType::kInfo:
    case MsgType::kSubscribe:
      FUZZ_CHECK(DecodeEmpty(f.body, f.type).ok() == f.body.empty());
      break;
    case MsgType::kArchiveNotify: {
      DurableEnd end;
      if (!DecodeArchiveNotify(f.body, &end).ok()) break;
      std::string e;
      EncodeArchiveNotify(&e, f.request_id, end);
      FUZZ_CHECK(Body(e) == f.body);
      break;
    }
    default:
      break;  // a reply type sent to the stone: the connection answers with an error
  }
}

void Reply(const Frame& f) {
  switch (f.type) {
    case MsgType::kHelloReply: {
      HelloReply r;
      (void)DecodeHelloReply(f.body, &r);
      break;
    }
    case MsgType::kGetReply: {
      ReadResult r;
      (void)DecodeGetReply(f.body, &r);
      break;
    }
    case MsgType::kCommitReply: {
      uint64_t tid;
      (void)DecodeCommitReply(f.body, &tid);
      break;
    }
    case MsgType::kInfoReply: {
      StoneInfo info;
      if (!DecodeInfoReply(f.body, &info).ok()) break;
      std::string e;
      EncodeInfoReply(&e, f.request_id, info);
      FUZZ_CHECK(Body(e).size() <= f.body.size());  // varint lengths may shrink
      break;
    }
    case MsgType::kAdminReply: {
      std::string text;
      (void)DecodeAdminReply(f.body, &text);
      break;
    }
    case MsgType::kSubscribeReply:
      (void)DecodeSubscribeReply(f.body);
      break;
    case MsgType::kArchiveNotifyReply:
      (void)DecodeArchiveNotifyReply(f.body);
      break;
    case MsgType::kDurableEnd: {
      DurableEnd end;
      if (!DecodeDurableEnd(f.body, &end).ok()) break;
      std::string e;
      EncodeDurableEnd(&e, f.request_id, end);
      FUZZ_CHECK(Body(e) == f.body);
      break;
    }
    default:
      break;
  }
}

}  // namespace
}  // namespace tranship::client_protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tranship::client_protocol;
  if (size < 1) return 0;
  const bool replies = (data[0] & 1) != 0;
  const bool direct = (data[0] & 2) != 0;
  const size_t piece = size_t{1} << (2 * ((data[0] >> 2) % 8));
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const uint32_t max = replies ? kMaxReplyBodySize : kMaxBodySize;
  FrameReader reader(max);
  Frame f;
  for (size_t at = 0; at < stream.size(); at += piece) {
    std::string_view bytes = stream.substr(at, piece);
    if (direct) {
      while (!bytes.empty()) {
        std::span<char> room = reader.PrepareWrite(1);
        FUZZ_CHECK(!room.empty());
        size_t n = std::min(room.size(), bytes.size());
        std::memcpy(room.data(), bytes.data(), n);
        reader.CommitWrite(n);
        bytes.remove_prefix(n);
      }
    } else {
      reader.Feed(bytes);
    }
    FrameReader::Next r;
    while ((r = reader.Read(&f)) == FrameReader::Next::kFrame) {
      FUZZ_CHECK(IsKnownType(static_cast<uint8_t>(f.type)) && f.body.size() <= max);
      (void)TypeName(f.type);
      if (replies) {
        Reply(f);
      } else {
        Request(f);
      }
    }
    if (r == FrameReader::Next::kError) {
      FUZZ_CHECK(!reader.error().ok());
      break;
    }
  }
  return 0;
}
