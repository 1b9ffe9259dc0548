// Fuzz target: the shipping handshake (logsender/handshake.h).
//
// Input: one control byte, then bytes from the peer.
//   control bit 0 = 0: the logsender's side. The bytes are the body of a Hello from an
//     unauthenticated receiver; what DecodeHello accepts (or refuses only for its
//     version, as the session does) goes to CheckHello against the sample history
//     (sample_history.h: three files, a junction, an abandoned branch). An acceptance
//     must start the stream on the primary's history, no further than its durable end,
//     after the receiver's TID; a refusal must say why.
//   control bit 0 = 1: the logreceiver's side. The bytes are the sender's answer as a
//     frame stream; the first frame must be a Welcome or a Refuse, as the receiver
//     requires, and what decodes must encode back to the same message.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/log.h"
#include "fuzz/check.h"
#include "fuzz/sample_history.h"
#include "logsender/handshake.h"
#include "logsender/history.h"
#include "wire/protocol.h"

namespace tranship::fuzz {
namespace {

const SampleHistory& Sample() {
  static SampleHistory* h = [] {
    LogSetLevel(LogLevel::kError);  // refusals are the expected outcome: keep stderr quiet
    auto* s = new SampleHistory;
    WriteSampleHistory(s);
    return s;
  }();
  return *h;
}

void SenderSide(std::string_view body) {
  wire::Hello hello;
  Status s = wire::DecodeHello(body, &hello);
  if (!s.ok() && s.code() != Status::Code::kNotSupported) return;
  const SampleHistory& sample = Sample();
  // A fresh History per input: what one input teaches it must not change the next.
  logsender::History history(const_cast<MemoryEnv*>(&sample.env), {SampleHistory::kDir},
                             "tranlog");
  if (!history.Refresh().ok()) std::abort();
  logsender::HandshakeDecision d = logsender::CheckHello(hello, history, sample.end, "prod");
  if (!d.accepted) {
    FUZZ_CHECK(!d.refuse.message.empty());
    FUZZ_CHECK(std::string_view(wire::RefuseCodeName(d.refuse.code)) != "unknown");
    return;
  }
  FUZZ_CHECK(hello.version == wire::kProtocolVersion && !hello.receiver_stone.empty());
  const Position& start = d.start.pos;
  const Position& end = sample.end.pos;
  // On the primary's history: up to its durable end, or the next file after a log
  // switch right at it.
  FUZZ_CHECK(start <= end || start == (Position{end.file_id + 1, 0}));
  FUZZ_CHECK(start.file_id >= 1);
  if (start.offset == 0) FUZZ_CHECK(d.start.next_tid >= 1);
  // Never counted as acknowledged beyond where the stream starts.
  if (d.acked) FUZZ_CHECK(d.acked->pos <= start);
  switch (hello.mode) {
    case wire::StartMode::kResume:
      FUZZ_CHECK(d.acked.has_value());
      FUZZ_CHECK(d.start.next_tid == hello.resume_tid + 1);
      FUZZ_CHECK(hello.resume_tid <= sample.end.tid);
      break;
    case wire::StartMode::kAfterTid:
      FUZZ_CHECK(!d.acked.has_value() && start.offset == 0);
      FUZZ_CHECK(d.start.next_tid <= hello.resume_tid + 1);
      FUZZ_CHECK(hello.resume_tid <= sample.end.tid);
      break;
    case wire::StartMode::kFromStart:
      FUZZ_CHECK(!d.acked.has_value() && start == (Position{1, 0}));
      break;
  }
}

void ReceiverSide(std::string_view stream) {
  wire::FrameReader reader(wire::kMaxSenderFrame);
  reader.Feed(stream);
  wire::Frame f;
  if (reader.Next(&f) != wire::FrameReader::Result::kFrame) return;
  if (f.type == wire::MsgType::kWelcome) {
    wire::Welcome w;
    if (!wire::DecodeWelcome(f.body, &w).ok()) return;
    std::string again;
    wire::EncodeWelcome(&again, w);
    wire::Welcome w2;
    FUZZ_CHECK(wire::DecodeWelcome(std::string_view(again).substr(wire::kFrameHeaderSize), &w2)
                   .ok());
    FUZZ_CHECK(w2.sender_stone == w.sender_stone && w2.start == w.start &&
               w2.primary_end == w.primary_end && w2.keepalive_ms == w.keepalive_ms &&
               w2.timeout_ms == w.timeout_ms);
    FUZZ_CHECK(w.sender_stone.size() <= wire::kMaxNameLength);
  } else if (f.type == wire::MsgType::kRefuse) {
    wire::Refuse r;
    if (!wire::DecodeRefuse(f.body, &r).ok()) return;
    FUZZ_CHECK(r.message.size() <= wire::kMaxRefuseMessage);
    (void)wire::RefuseCodeName(r.code);
  }
}

}  // namespace
}  // namespace tranship::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    tranship::fuzz::SenderSide(rest);
  } else {
    tranship::fuzz::ReceiverSide(rest);
  }
  return 0;
}
