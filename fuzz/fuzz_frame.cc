// Fuzz target: the shipping protocol's frame stream (wire/protocol.h) as either end
// reads it, and the receiver's handling of a Data frame's payload (wire/batch.h zstd
// batches, logreceiver/record_check.h).
//
// Input: one control byte, then the bytes a peer sends.
//   control bit 0: 0 = the logreceiver reading its sender (limit kMaxSenderFrame),
//                  1 = the logsender reading a receiver (limit kMaxReceiverFrame)
//   control bits 1..7: n; the stream is fed in pieces of n + 1 bytes (127: at once)
// Every frame is decoded by its type. What decodes must encode back to the same message,
// and a Data frame goes on as in the receiver: decompress (exactly raw_length bytes),
// then check the chunk against the archive's end, which must move exactly to the end of
// the chunk (or to the next file after a log switch).

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "logreceiver/record_check.h"
#include "wire/batch.h"
#include "wire/protocol.h"

namespace tranship::wire {
namespace {

bool Same(const DurableEnd& a, const DurableEnd& b) { return a == b; }

// decode(encode(m)) == m for each message, field by field.
void RoundTripHello(const Hello& m) {
  std::string f;
  EncodeHello(&f, m);
  Hello n;
  FUZZ_CHECK(DecodeHello(std::string_view(f).substr(kFrameHeaderSize), &n).ok());
  FUZZ_CHECK(n.version == m.version && n.receiver_stone == m.receiver_stone &&
             n.receiver_host == m.receiver_host && n.mode == m.mode && n.lineage == m.lineage &&
             n.resume == m.resume && n.resume_tid == m.resume_tid &&
             n.resume_chain == m.resume_chain);
}

void RoundTripWelcome(const Welcome& m) {
  std::string f;
  EncodeWelcome(&f, m);
  Welcome n;
  FUZZ_CHECK(DecodeWelcome(std::string_view(f).substr(kFrameHeaderSize), &n).ok());
  FUZZ_CHECK(n.version == m.version && n.sender_stone == m.sender_stone && n.start == m.start &&
             Same(n.primary_end, m.primary_end) && n.keepalive_ms == m.keepalive_ms &&
             n.timeout_ms == m.timeout_ms);
}

void RoundTripRefuse(const Refuse& m) {
  std::string f;
  EncodeRefuse(&f, m);
  Refuse n;
  FUZZ_CHECK(DecodeRefuse(std::string_view(f).substr(kFrameHeaderSize), &n).ok());
  FUZZ_CHECK(n.code == m.code && n.message == m.message);
  (void)RefuseCodeName(n.code);  // an unknown code has a name too
}

void CheckData(std::string_view body, Decompressor* dec, logreceiver::StreamEnd* end) {
  DataHeader h;
  std::string_view payload;
  if (!DecodeData(body, &h, &payload).ok()) return;
  FUZZ_CHECK(h.raw_length > 0 && h.raw_length <= kMaxDataRaw);
  std::string f;
  EncodeData(&f, h, payload);
  FUZZ_CHECK(std::string_view(f).substr(kFrameHeaderSize) == body);
  std::string decompressed;
  std::string_view raw = payload;
  if (h.flags & kDataZstd) {
    if (!dec->Decompress(payload, h.raw_length, &decompressed).ok()) return;
    raw = decompressed;
  }
  FUZZ_CHECK(raw.size() == h.raw_length);
  logreceiver::StreamEnd before = *end;
  if (!logreceiver::CheckChunk("tranlog.dbf", h.file_id, h.offset, raw, end).ok()) {
    FUZZ_CHECK(*end == before);  // a refused chunk leaves the archive's end alone
    return;
  }
  FUZZ_CHECK(!end->anchor);
  if (end->log_switched) {
    FUZZ_CHECK(end->pos == (Position{h.file_id + 1, 0}));
  } else {
    FUZZ_CHECK(end->pos == (Position{h.file_id, h.offset + raw.size()}));
  }
}

void HandleFrame(const Frame& f, Decompressor* dec, logreceiver::StreamEnd* end) {
  (void)MsgTypeName(f.type);
  switch (f.type) {
    case MsgType::kHello: {
      Hello m;
      if (DecodeHello(f.body, &m).ok()) RoundTripHello(m);
      break;
    }
    case MsgType::kWelcome: {
      Welcome m;
      if (DecodeWelcome(f.body, &m).ok()) RoundTripWelcome(m);
      break;
    }
    case MsgType::kRefuse: {
      Refuse m;
      if (DecodeRefuse(f.body, &m).ok()) RoundTripRefuse(m);
      break;
    }
    case MsgType::kData:
      CheckData(f.body, dec, end);
      break;
    case MsgType::kAck: {
      Ack m;
      if (!DecodeAck(f.body, &m).ok()) break;
      std::string e;
      EncodeAck(&e, m);
      FUZZ_CHECK(std::string_view(e).substr(kFrameHeaderSize) == f.body);
      break;
    }
    case MsgType::kKeepalive: {
      Keepalive m;
      if (!DecodeKeepalive(f.body, &m).ok()) break;
      std::string e;
      EncodeKeepalive(&e, m);
      FUZZ_CHECK(std::string_view(e).substr(kFrameHeaderSize) == f.body);
      break;
    }
  }
}

}  // namespace
}  // namespace tranship::wire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tranship::wire;
  if (size < 1) return 0;
  const bool from_receiver = (data[0] & 1) != 0;
  const size_t piece = (data[0] >> 1) == 127 ? size : (data[0] >> 1) + 1u;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  static Decompressor* dec = new Decompressor;  // one per thread, as in the receiver
  FrameReader reader(from_receiver ? kMaxReceiverFrame : kMaxSenderFrame);
  tranship::logreceiver::StreamEnd end;
  end.anchor = true;  // an empty archive
  Frame f;
  for (size_t at = 0; at < stream.size(); at += piece) {
    reader.Feed(stream.substr(at, piece));
    FrameReader::Result r;
    while ((r = reader.Next(&f)) == FrameReader::Result::kFrame) {
      FUZZ_CHECK(f.body.size() + 1 <= (from_receiver ? kMaxReceiverFrame : kMaxSenderFrame));
      HandleFrame(f, dec, &end);
    }
    if (r == FrameReader::Result::kError) {
      FUZZ_CHECK(!reader.error().ok());
      FUZZ_CHECK(reader.buffered() == 0);  // nothing kept for a connection being closed
      break;
    }
  }
  return 0;
}
