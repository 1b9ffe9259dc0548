// Shipping protocol codec: every message round-trips, the FrameReader assembles frames
// from every split of a byte stream, and malformed input (zero or oversize lengths,
// unknown types, truncated bodies, bad string lengths, trailing bytes) is refused
// without buffering what a bad header announced.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "base/coding.h"
#include "wire/protocol.h"

namespace tranship::wire {
namespace {

DurableEnd SampleEnd() {
  DurableEnd e;
  e.lineage = {0x0102030405060708ull, 0x1112131415161718ull};
  e.pos = {7, 123456789012ull};
  e.tid = 99;
  e.chain = 0xdeadbeefcafef00dull;
  e.commit_time_us = 1700000000000000ull;
  return e;
}

// Decodes exactly one frame from `bytes` and returns it (its body copied).
std::pair<MsgType, std::string> OneFrame(const std::string& bytes, uint32_t max = kMaxSenderFrame) {
  FrameReader r(max);
  r.Feed(bytes);
  Frame f;
  REQUIRE(r.Next(&f) == FrameReader::Result::kFrame);
  std::pair<MsgType, std::string> out{f.type, std::string(f.body)};
  CHECK(r.Next(&f) == FrameReader::Result::kNeedMore);
  CHECK(r.buffered() == 0);
  return out;
}

std::string Body(const std::string& frame) { return frame.substr(kFrameHeaderSize); }

// A frame with the given type and body, the length field computed honestly.
std::string RawFrame(uint8_t type, const std::string& body) {
  std::string s;
  PutFixed32(&s, static_cast<uint32_t>(body.size() + 1));
  s.push_back(static_cast<char>(type));
  return s + body;
}

TEST_CASE("HelloRoundTrips") {
  Hello h;
  h.receiver_stone = "standby1";
  h.receiver_host = "db2.example.com";
  h.mode = StartMode::kResume;
  h.lineage = {5, 6};
  h.resume = {3, 4096};
  h.resume_tid = 41;
  h.resume_chain = 0x1234;
  std::string s;
  EncodeHello(&s, h);
  auto [type, body] = OneFrame(s, kMaxReceiverFrame);
  CHECK(type == MsgType::kHello);
  Hello d;
  REQUIRE(DecodeHello(body, &d).ok());
  CHECK(d.version == kProtocolVersion);
  CHECK(d.receiver_stone == "standby1");
  CHECK(d.receiver_host == "db2.example.com");
  CHECK(d.mode == StartMode::kResume);
  CHECK(d.lineage == Lineage{5, 6});
  CHECK(d.resume == Position{3, 4096});
  CHECK(d.resume_tid == 41);
  CHECK(d.resume_chain == 0x1234);
}

TEST_CASE("LongestHelloFitsTheReceiverFrameLimit") {
  Hello h;
  h.receiver_stone = std::string(1000, 's');  // the encoder bounds it
  h.receiver_host = std::string(kMaxNameLength, 'h');
  std::string s;
  EncodeHello(&s, h);
  CHECK(s.size() <= kMaxReceiverFrame);
  auto [type, body] = OneFrame(s, kMaxReceiverFrame);
  Hello d;
  REQUIRE(DecodeHello(body, &d).ok());
  CHECK(d.receiver_stone.size() == kMaxNameLength);
}

TEST_CASE("WelcomeRefuseAckKeepaliveRoundTrip") {
  Welcome w;
  w.sender_stone = "prod";
  w.start = {2, 72};
  w.primary_end = SampleEnd();
  w.keepalive_ms = 1000;
  w.timeout_ms = 30000;
  std::string s;
  EncodeWelcome(&s, w);
  Welcome wd;
  REQUIRE(DecodeWelcome(Body(s), &wd).ok());
  CHECK(wd.sender_stone == "prod");
  CHECK(wd.start == Position{2, 72});
  CHECK(wd.primary_end == SampleEnd());
  CHECK(wd.keepalive_ms == 1000);
  CHECK(wd.timeout_ms == 30000);

  s.clear();
  EncodeRefuse(&s, {RefuseCode::kForkInTime, "fork in time: reseed this standby"});
  Refuse rd;
  REQUIRE(DecodeRefuse(Body(s), &rd).ok());
  CHECK(rd.code == RefuseCode::kForkInTime);
  CHECK(rd.message == "fork in time: reseed this standby");

  s.clear();
  EncodeAck(&s, {{9, 1 << 20}, 777});
  Ack ad;
  REQUIRE(DecodeAck(Body(s), &ad).ok());
  CHECK(ad.durable == Position{9, 1 << 20});
  CHECK(ad.tid == 777);

  s.clear();
  EncodeKeepalive(&s, {123456, SampleEnd()});
  Keepalive kd;
  REQUIRE(DecodeKeepalive(Body(s), &kd).ok());
  CHECK(kd.sent_us == 123456);
  CHECK(kd.primary_end == SampleEnd());
}

TEST_CASE("DataRoundTripsAndBorrowsItsPayload") {
  std::string payload = "tranlog bytes";
  std::string s;
  EncodeData(&s, {4, 72, static_cast<uint32_t>(payload.size()), 0}, payload);
  auto [type, body] = OneFrame(s);
  CHECK(type == MsgType::kData);
  DataHeader h;
  std::string_view p;
  REQUIRE(DecodeData(body, &h, &p).ok());
  CHECK(h.file_id == 4);
  CHECK(h.offset == 72);
  CHECK(h.raw_length == payload.size());
  CHECK(h.flags == 0);
  CHECK(p == payload);
  CHECK(p.data() >= body.data());
  CHECK(p.data() + p.size() == body.data() + body.size());
}

TEST_CASE("DataRulesAreChecked") {
  DataHeader h;
  std::string_view p;
  std::string s;
  SUBCASE("raw length above kMaxDataRaw") {
    EncodeData(&s, {1, 0, kMaxDataRaw + 1, kDataZstd}, "x");
  }
  SUBCASE("zero raw length") { EncodeData(&s, {1, 0, 0, 0}, ""); }
  SUBCASE("plain payload shorter than raw length") { EncodeData(&s, {1, 0, 5, 0}, "abc"); }
  SUBCASE("unknown flag") { EncodeData(&s, {1, 0, 3, 0x40}, "abc"); }
  SUBCASE("file id zero") { EncodeData(&s, {0, 0, 3, 0}, "abc"); }
  SUBCASE("empty compressed payload") { EncodeData(&s, {1, 0, 3, kDataZstd}, ""); }
  SUBCASE("header cut short") { s = RawFrame(4, std::string(20, '\0')); }
  Status st = DecodeData(Body(s), &h, &p);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("Data") != std::string::npos);
}

TEST_CASE("EveryTruncationOfEveryMessageIsRefused") {
  std::vector<std::pair<MsgType, std::string>> frames;
  std::string s;
  Hello h;
  h.receiver_stone = "a";
  h.receiver_host = "b";
  EncodeHello(&s, h);
  frames.emplace_back(MsgType::kHello, Body(s));
  s.clear();
  EncodeWelcome(&s, {kProtocolVersion, "prod", {1, 0}, SampleEnd(), 1, 2});
  frames.emplace_back(MsgType::kWelcome, Body(s));
  s.clear();
  EncodeRefuse(&s, {RefuseCode::kBadHello, "why"});
  frames.emplace_back(MsgType::kRefuse, Body(s));
  s.clear();
  EncodeAck(&s, {{1, 2}, 3});
  frames.emplace_back(MsgType::kAck, Body(s));
  s.clear();
  EncodeKeepalive(&s, {1, SampleEnd()});
  frames.emplace_back(MsgType::kKeepalive, Body(s));

  for (auto& [type, body] : frames) {
    CAPTURE(MsgTypeName(type));
    for (size_t n = 0; n <= body.size() + 1; n++) {
      std::string b = n <= body.size() ? body.substr(0, n) : body + "x";  // and one extra
      if (b == body) continue;
      CAPTURE(n);
      Status st;
      Hello hd;
      Welcome wd;
      Refuse rd;
      Ack ad;
      Keepalive kd;
      switch (type) {
        case MsgType::kHello: st = DecodeHello(b, &hd); break;
        case MsgType::kWelcome: st = DecodeWelcome(b, &wd); break;
        case MsgType::kRefuse: st = DecodeRefuse(b, &rd); break;
        case MsgType::kAck: st = DecodeAck(b, &ad); break;
        case MsgType::kKeepalive: st = DecodeKeepalive(b, &kd); break;
        default: break;
      }
      CHECK(!st.ok());
    }
  }
}

TEST_CASE("BadStringLengthsAreRefused") {
  Hello h;
  std::string s;
  SUBCASE("stone name longer than kMaxNameLength") {
    std::string body(kHelloMagic, 4);
    PutFixed16(&body, kProtocolVersion);
    PutVarint64(&body, kMaxNameLength + 1);
    body += std::string(kMaxNameLength + 1, 'x');
    CHECK(DecodeHello(body, &h).IsCorruption());
  }
  SUBCASE("stone name length past the end") {
    std::string body(kHelloMagic, 4);
    PutFixed16(&body, kProtocolVersion);
    PutVarint64(&body, 200);
    body += "short";
    CHECK(DecodeHello(body, &h).IsCorruption());
  }
  SUBCASE("huge varint length") {
    std::string body(kHelloMagic, 4);
    PutFixed16(&body, kProtocolVersion);
    PutVarint64(&body, UINT64_MAX);
    CHECK(DecodeHello(body, &h).IsCorruption());
  }
  SUBCASE("refuse message longer than kMaxRefuseMessage") {
    std::string body(1, static_cast<char>(RefuseCode::kBadHello));
    PutVarint64(&body, kMaxRefuseMessage + 1);
    body += std::string(kMaxRefuseMessage + 1, 'm');
    Refuse r;
    CHECK(DecodeRefuse(body, &r).IsCorruption());
  }
  SUBCASE("the encoder bounds a long refuse message") {
    EncodeRefuse(&s, {RefuseCode::kBadHello, std::string(5000, 'm')});
    Refuse r;
    REQUIRE(DecodeRefuse(Body(s), &r).ok());
    CHECK(r.message.size() == kMaxRefuseMessage);
  }
}

TEST_CASE("HelloMagicAndVersionAreCheckedFirst") {
  Hello h;
  std::string body = "HTTP/1.1 200 OK";
  CHECK(DecodeHello(body, &h).IsCorruption());
  body = std::string(kHelloMagic, 4);
  PutFixed16(&body, kProtocolVersion + 1);
  body += "whatever a later version puts here";
  Status st = DecodeHello(body, &h);
  CHECK(st.code() == Status::Code::kNotSupported);
  CHECK(h.version == kProtocolVersion + 1);
  CHECK(st.message().find("protocol version") != std::string::npos);
  body = std::string(kHelloMagic, 4);
  PutFixed16(&body, kProtocolVersion);
  PutLengthPrefixed(&body, "a");
  PutLengthPrefixed(&body, "b");
  body.push_back(9);  // unknown start mode
  body += std::string(48, '\0');
  CHECK(DecodeHello(body, &h).IsCorruption());
}

TEST_CASE("FrameReaderAssemblesEverySplitOfAStream") {
  std::string stream;
  EncodeAck(&stream, {{1, 2}, 3});
  EncodeKeepalive(&stream, {5, SampleEnd()});
  std::string payload(300, 'p');
  EncodeData(&stream, {1, 0, 300, 0}, payload);
  EncodeRefuse(&stream, {RefuseCode::kShuttingDown, "bye"});
  for (size_t a = 0; a <= stream.size(); a++) {
    for (size_t b = a; b <= stream.size(); b += 7) {
      FrameReader r(kMaxSenderFrame);
      std::vector<std::pair<MsgType, std::string>> got;
      Frame f;
      for (auto piece : {stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}) {
        r.Feed(piece);
        FrameReader::Result res;
        while ((res = r.Next(&f)) == FrameReader::Result::kFrame) {
          got.emplace_back(f.type, std::string(f.body));
        }
        REQUIRE(res == FrameReader::Result::kNeedMore);
      }
      REQUIRE(got.size() == 4);
      CHECK(got[0].first == MsgType::kAck);
      CHECK(got[1].first == MsgType::kKeepalive);
      CHECK(got[2].first == MsgType::kData);
      CHECK(got[2].second.size() == 21 + 300);
      CHECK(got[3].first == MsgType::kRefuse);
      CHECK(r.buffered() == 0);
    }
  }
}

TEST_CASE("BadFrameHeadersAreRefusedBeforeTheBodyIsBuffered") {
  FrameReader r(kMaxReceiverFrame);
  std::string s;
  SUBCASE("oversize length") { PutFixed32(&s, kMaxReceiverFrame + 1); s.push_back(1); }
  SUBCASE("huge length") { PutFixed32(&s, UINT32_MAX); s.push_back(4); }
  SUBCASE("zero length") { PutFixed32(&s, 0); s.push_back(1); }
  SUBCASE("unknown type 0") { PutFixed32(&s, 10); s.push_back(0); }
  SUBCASE("unknown type 7") { PutFixed32(&s, 10); s.push_back(7); }
  SUBCASE("unknown type 0x16 (a TLS record)") { s = std::string("\x16\x03\x01\x02\x00", 5); }
  r.Feed(s);
  // The error is found at Feed time: nothing is kept, and more bytes are dropped.
  CHECK(r.buffered() == 0);
  r.Feed(std::string(1 << 20, 'z'));
  CHECK(r.buffered() == 0);
  Frame f;
  CHECK(r.Next(&f) == FrameReader::Result::kError);
  CHECK(r.error().IsCorruption());
  CHECK(r.Next(&f) == FrameReader::Result::kError);
}

TEST_CASE("OversizeLengthWithinOneChunkIsRefused") {
  // A good frame, then a bad header, in one Feed: the good frame comes out, then the
  // error; nothing of the announced size is held.
  std::string s;
  EncodeAck(&s, {{1, 2}, 3});
  PutFixed32(&s, 1u << 30);
  s.push_back(4);
  FrameReader r(kMaxSenderFrame);
  r.Feed(s);
  Frame f;
  REQUIRE(r.Next(&f) == FrameReader::Result::kFrame);
  CHECK(f.type == MsgType::kAck);
  CHECK(r.Next(&f) == FrameReader::Result::kError);
  CHECK(r.buffered() == 0);
}

TEST_CASE("TruncatedBodyWaitsForMoreAndHoldsOnlyWhatArrived") {
  std::string s;
  std::string payload(100000, 'q');
  EncodeData(&s, {1, 0, 100000, 0}, payload);
  FrameReader r(kMaxSenderFrame);
  r.Feed(s.substr(0, 1000));
  Frame f;
  CHECK(r.Next(&f) == FrameReader::Result::kNeedMore);
  CHECK(r.buffered() == 1000);
  r.Feed(s.substr(1000));
  REQUIRE(r.Next(&f) == FrameReader::Result::kFrame);
  CHECK(f.body.size() == s.size() - kFrameHeaderSize);
}

TEST_CASE("FrameReaderCompactsBetweenFrames") {
  // Many frames fed one at a time: the buffer holds about one frame, not the stream.
  FrameReader r(kMaxSenderFrame);
  std::string payload(10000, 'd');
  for (int i = 0; i < 1000; i++) {
    std::string s;
    EncodeData(&s, {1, static_cast<uint64_t>(i) * 10000, 10000, 0}, payload);
    r.Feed(s.substr(0, 5000));
    r.Feed(s.substr(5000));
    Frame f;
    REQUIRE(r.Next(&f) == FrameReader::Result::kFrame);
    CHECK(r.buffered() == 0);
    CHECK(r.Next(&f) == FrameReader::Result::kNeedMore);
  }
}

}  // namespace
}  // namespace tranship::wire
