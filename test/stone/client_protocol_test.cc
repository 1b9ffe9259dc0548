// Client protocol codec: every message round-trips, the incremental reader assembles
// frames from any split of the byte stream, and malformed input (truncated, oversize,
// unknown type, trailing bytes, forged counts) is refused without over-reading.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "base/coding.h"
#include "client/protocol.h"
#include "test/test_util.h"

namespace tranship {
namespace {
namespace cp = client_protocol;

// Decodes exactly one frame from `bytes`.
cp::Frame OneFrame(cp::FrameReader* r, const std::string& bytes) {
  r->Feed(bytes);
  cp::Frame f;
  REQUIRE(r->Read(&f) == cp::FrameReader::Next::kFrame);
  cp::Frame none;
  CHECK(r->Read(&none) == cp::FrameReader::Next::kNeedMore);
  return f;
}

DurableEnd SampleEnd() {
  DurableEnd e;
  e.lineage = {0x0102030405060708ull, 0x1112131415161718ull};
  e.pos = {7, 123456};
  e.tid = 99;
  e.chain = 0xdeadbeefcafef00dull;
  e.commit_time_us = 1700000000000000ull;
  return e;
}

TEST_CASE("HelloRoundTrip") {
  std::string buf;
  cp::EncodeHello(&buf, 1, "cli");
  cp::FrameReader r;
  cp::Frame f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kHello);
  CHECK(f.request_id == 1);
  cp::HelloRequest h;
  REQUIRE(cp::DecodeHello(f.body, &h).ok());
  CHECK(h.magic == cp::kMagic);
  CHECK(h.protocol_version == cp::kProtocolVersion);
  CHECK(h.client_name == "cli");

  buf.clear();
  cp::EncodeHelloReply(&buf, 1, {cp::kProtocolVersion, "0.1.0", "prod"});
  f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kHelloReply);
  cp::HelloReply reply;
  REQUIRE(cp::DecodeHelloReply(f.body, &reply).ok());
  CHECK(reply.server_version == "0.1.0");
  CHECK(reply.stone_name == "prod");
}

TEST_CASE("CommitRoundTrip") {
  TxnRequest txn;
  txn.reads = {{"a", 5}, {"absent", 0}, {std::string(300, 'k'), 1ull << 40}};
  txn.writes = {{WriteOp::Kind::kPut, "a", "value"},
                {WriteOp::Kind::kDelete, "b", ""},
                {WriteOp::Kind::kPut, "empty", ""},
                {WriteOp::Kind::kPut, std::string("\0bin", 4), std::string(70000, 'v')}};
  std::string buf;
  cp::EncodeCommit(&buf, 0xfffffffe, txn);
  cp::FrameReader r;
  cp::Frame f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kCommit);
  CHECK(f.request_id == 0xfffffffe);
  TxnRequest out;
  REQUIRE(cp::DecodeCommit(f.body, &out).ok());
  REQUIRE(out.reads.size() == 3);
  CHECK(out.reads[2].key == txn.reads[2].key);
  CHECK(out.reads[2].version == txn.reads[2].version);
  REQUIRE(out.writes.size() == 4);
  for (size_t i = 0; i < 4; i++) {
    CHECK(out.writes[i].kind == txn.writes[i].kind);
    CHECK(out.writes[i].key == txn.writes[i].key);
    CHECK(out.writes[i].value == txn.writes[i].value);
  }

  buf.clear();
  cp::EncodeCommitReply(&buf, 9, 4242);
  f = OneFrame(&r, buf);
  uint64_t tid = 0;
  REQUIRE(cp::DecodeCommitReply(f.body, &tid).ok());
  CHECK(tid == 4242);
}

TEST_CASE("GetAdminInfoSubscribeRoundTrip") {
  cp::FrameReader r;
  std::string buf;
  cp::EncodeGet(&buf, 2, "key");
  cp::Frame f = OneFrame(&r, buf);
  std::string_view key;
  REQUIRE(cp::DecodeGet(f.body, &key).ok());
  CHECK(key == "key");

  buf.clear();
  cp::EncodeGetReply(&buf, 2, ReadResult{true, "val", 17});
  f = OneFrame(&r, buf);
  ReadResult rr;
  REQUIRE(cp::DecodeGetReply(f.body, &rr).ok());
  CHECK(rr.found);
  CHECK(rr.value == "val");
  CHECK(rr.version == 17);

  buf.clear();
  cp::EncodeAdmin(&buf, 3, "digest", {"x", ""});
  f = OneFrame(&r, buf);
  std::string verb;
  std::vector<std::string> args;
  REQUIRE(cp::DecodeAdmin(f.body, &verb, &args).ok());
  CHECK(verb == "digest");
  CHECK(args == std::vector<std::string>{"x", ""});

  buf.clear();
  cp::EncodeAdminReply(&buf, 3, "tid 1 keys 0 sha256 ab");
  f = OneFrame(&r, buf);
  std::string text;
  REQUIRE(cp::DecodeAdminReply(f.body, &text).ok());
  CHECK(text == "tid 1 keys 0 sha256 ab");

  StoneInfo info;
  info.name = "prod";
  info.version = "0.1.0";
  info.pid = 1234;
  info.started_us = 55;
  info.state = "commits suspended";
  info.durable_end = SampleEnd();
  info.stats.commits = 10;
  info.stats.conflicts = 2;
  info.stats.batches = 3;
  info.stats.tranlog_bytes = 4;
  info.stats.keys = 5;
  info.stats.last_checkpoint_tid = 6;
  info.stats.last_checkpoint_us = 7;
  info.stats.commits_suspended = true;
  info.stats.last_error = "disk full";
  info.logreceivers = 2;
  info.archive_end = SampleEnd();
  buf.clear();
  cp::EncodeInfoReply(&buf, 4, info);
  f = OneFrame(&r, buf);
  StoneInfo got;
  REQUIRE(cp::DecodeInfoReply(f.body, &got).ok());
  CHECK(got.name == "prod");
  CHECK(got.pid == 1234);
  CHECK(got.state == "commits suspended");
  CHECK(got.durable_end == info.durable_end);
  CHECK(got.stats.keys == 5);
  CHECK(got.stats.last_checkpoint_us == 7);
  CHECK(got.stats.commits_suspended);
  CHECK_FALSE(got.stats.restore_mode);
  CHECK(got.stats.last_error == "disk full");
  CHECK(got.logreceivers == 2);
  CHECK(got.archive_end == SampleEnd());

  buf.clear();
  cp::EncodeSubscribe(&buf, 5);
  f = OneFrame(&r, buf);
  CHECK(cp::DecodeEmpty(f.body, f.type).ok());
  buf.clear();
  cp::EncodeDurableEnd(&buf, 5, SampleEnd());
  f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kDurableEnd);
  CHECK(f.request_id == 5);
  DurableEnd e;
  REQUIRE(cp::DecodeDurableEnd(f.body, &e).ok());
  CHECK(e == SampleEnd());
}

TEST_CASE("ArchiveNotifyRoundTrip") {
  cp::FrameReader r;
  std::string buf;
  cp::EncodeArchiveNotify(&buf, 9, SampleEnd());
  cp::Frame f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kArchiveNotify);
  CHECK(f.request_id == 9);
  DurableEnd e;
  REQUIRE(cp::DecodeArchiveNotify(f.body, &e).ok());
  CHECK(e == SampleEnd());
  CHECK(cp::DecodeArchiveNotify(f.body.substr(1), &e).IsCorruption());

  buf.clear();
  cp::EncodeArchiveNotifyReply(&buf, 9);
  f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kArchiveNotifyReply);
  CHECK(cp::DecodeArchiveNotifyReply(f.body).ok());
}

TEST_CASE("ErrorReplyCarriesCodeAndOneLine") {
  std::string buf;
  cp::EncodeErrorReply(&buf, cp::MsgType::kCommit, 8,
                       Status::Conflict("key 'a' changed\nsecond line"));
  cp::FrameReader r;
  cp::Frame f = OneFrame(&r, buf);
  CHECK(f.type == cp::MsgType::kCommitReply);
  CHECK(f.request_id == 8);
  uint64_t tid = 0;
  Status s = cp::DecodeCommitReply(f.body, &tid);
  CHECK(s.IsConflict());
  CHECK(s.message() == "key 'a' changed");
}

TEST_CASE("ReaderAssemblesFramesFromAnySplit") {
  std::string stream;
  for (uint32_t i = 0; i < 50; i++) cp::EncodeGet(&stream, i, std::string(i * 37, 'x'));
  for (size_t step : {size_t{1}, size_t{3}, size_t{1000}, stream.size()}) {
    cp::FrameReader r;
    uint32_t next = 0;
    for (size_t off = 0; off < stream.size(); off += step) {
      r.Feed(std::string_view(stream).substr(off, step));
      cp::Frame f;
      while (r.Read(&f) == cp::FrameReader::Next::kFrame) {
        CHECK(f.request_id == next);
        std::string_view key;
        REQUIRE(cp::DecodeGet(f.body, &key).ok());
        CHECK(key.size() == next * 37);
        next++;
      }
    }
    CHECK(next == 50);
    CHECK(r.buffered() == 0);
  }
}

TEST_CASE("LargeFrameAtTheLimitIsAccepted") {
  std::string buf;
  // Body = 1 varint length byte(s) + key; aim just under the limit.
  cp::EncodeGet(&buf, 1, std::string(cp::kMaxBodySize - 4, 'k'));
  REQUIRE(buf.size() - cp::kFrameHeaderSize <= cp::kMaxBodySize);
  cp::FrameReader r;
  cp::Frame f = OneFrame(&r, buf);
  std::string_view key;
  REQUIRE(cp::DecodeGet(f.body, &key).ok());
  CHECK(key.size() == cp::kMaxBodySize - 4);
}

TEST_CASE("BufferGrowsToOneFrameAndShrinksAfter") {
  std::string buf;
  cp::EncodeGet(&buf, 1, std::string(10 << 20, 'k'));
  cp::FrameReader r;
  size_t fed = 0;
  size_t peak = 0;
  cp::Frame f;
  while (fed < buf.size()) {
    std::span<char> room = r.PrepareWrite(64 << 10);
    peak = std::max(peak, r.buffered() + room.size());
    size_t n = std::min({room.size(), buf.size() - fed, size_t{100000}});
    std::memcpy(room.data(), buf.data() + fed, n);
    r.CommitWrite(n);
    fed += n;
    if (fed < buf.size()) CHECK(r.Read(&f) == cp::FrameReader::Next::kNeedMore);
  }
  CHECK(peak <= buf.size() + (64 << 10));
  REQUIRE(r.Read(&f) == cp::FrameReader::Next::kFrame);
  CHECK(f.body.size() == buf.size() - cp::kFrameHeaderSize);
  // Consumed: the next read gets a small buffer again.
  CHECK(r.PrepareWrite(1).size() <= 64u << 10);
}

TEST_CASE("OversizeLengthIsRefusedBeforeBuffering") {
  std::string hdr;
  PutFixed32(&hdr, cp::kMaxBodySize + 1);
  hdr.push_back(static_cast<char>(cp::MsgType::kCommit));
  PutFixed32(&hdr, 1);
  cp::FrameReader r;
  r.Feed(hdr);
  cp::Frame f;
  CHECK(r.Read(&f) == cp::FrameReader::Next::kError);
  CHECK(r.error().IsCorruption());
  CHECK(r.error().message().find("exceeds") != std::string::npos);
  // Stays in error: a garbage stream is never resynchronised.
  std::string ok;
  cp::EncodeInfo(&ok, 2);
  r.Feed(ok);
  CHECK(r.Read(&f) == cp::FrameReader::Next::kError);
  // And it did not reserve the announced size.
  CHECK(r.PrepareWrite(1).size() < 1u << 20);
}

TEST_CASE("UnknownTypeIsRefusedFromTheHeader") {
  std::string hdr;
  PutFixed32(&hdr, 0);
  hdr.push_back(static_cast<char>(0x7f));
  PutFixed32(&hdr, 1);
  cp::FrameReader r;
  r.Feed(hdr);
  cp::Frame f;
  CHECK(r.Read(&f) == cp::FrameReader::Next::kError);
  CHECK(r.error().message().find("0x7f") != std::string::npos);
}

TEST_CASE("TruncatedFrameWaitsForMore") {
  std::string buf;
  cp::EncodeGet(&buf, 1, "some key");
  cp::FrameReader r;
  r.Feed(std::string_view(buf).substr(0, buf.size() - 1));
  cp::Frame f;
  CHECK(r.Read(&f) == cp::FrameReader::Next::kNeedMore);
  r.Feed(std::string_view(buf).substr(buf.size() - 1));
  CHECK(r.Read(&f) == cp::FrameReader::Next::kFrame);
}

TEST_CASE("TruncatedBodiesAreCorruption") {
  TxnRequest txn;
  txn.reads = {{"r", 1}};
  txn.writes = {{WriteOp::Kind::kPut, "k", "v"}, {WriteOp::Kind::kDelete, "d", ""}};
  std::string buf;
  cp::EncodeCommit(&buf, 1, txn);
  std::string body = buf.substr(cp::kFrameHeaderSize);
  for (size_t n = 0; n < body.size(); n++) {
    TxnRequest out;
    CHECK(cp::DecodeCommit(std::string_view(body).substr(0, n), &out).IsCorruption());
  }
  TxnRequest out;
  CHECK(cp::DecodeCommit(body + "x", &out).IsCorruption());  // trailing bytes

  StoneInfo info;
  buf.clear();
  cp::EncodeInfoReply(&buf, 1, info);
  body = buf.substr(cp::kFrameHeaderSize);
  for (size_t n = 0; n < body.size(); n++) {
    StoneInfo got;
    CHECK(cp::DecodeInfoReply(std::string_view(body).substr(0, n), &got).IsCorruption());
  }
  DurableEnd e;
  CHECK(cp::DecodeDurableEnd(std::string(55, '\0'), &e).IsCorruption());
  CHECK(cp::DecodeEmpty("x", cp::MsgType::kInfo).IsCorruption());
}

TEST_CASE("ForgedCountsAndBadKindsAreCorruption") {
  std::string body;
  PutVarint64(&body, 1ull << 40);  // "a trillion reads" in a 6-byte body
  TxnRequest out;
  CHECK(cp::DecodeCommit(body, &out).IsCorruption());

  body.clear();
  PutVarint64(&body, 0);
  PutVarint64(&body, 1);
  body.push_back(9);  // neither put nor delete
  PutLengthPrefixed(&body, "k");
  CHECK(cp::DecodeCommit(body, &out).IsCorruption());

  body.clear();
  PutLengthPrefixed(&body, "verb");
  PutVarint64(&body, 1000);
  std::string verb;
  std::vector<std::string> args;
  CHECK(cp::DecodeAdmin(body, &verb, &args).IsCorruption());

  // A key length pointing past the body.
  body.clear();
  PutVarint64(&body, 100);
  body += "short";
  std::string_view key;
  CHECK(cp::DecodeGet(body, &key).IsCorruption());
}

// A count within the bytes left used to be reserved at once: 512 Ki writes of 72 bytes
// each for a 1 MiB frame of zeros (the limit, 16 MiB, made it 576 MiB). Entries are now
// kept only as they decode.
TEST_CASE("ForgedCountsAllocateOnlyWhatDecodes") {
  const size_t kBody = 1 << 20;
  std::string body;
  PutVarint64(&body, 0);                   // no reads
  PutVarint64(&body, (kBody - 8) / 2);     // writes: as many as the bytes left allow
  body.resize(kBody, '\0');               // then kind 0: not a write
  TxnRequest out;
  CHECK(cp::DecodeCommit(body, &out).IsCorruption());
  CHECK(out.writes.capacity() <= 1024);

  body.clear();
  PutVarint64(&body, (kBody - 8) / 9);     // reads: as many as the bytes left allow
  body.resize(kBody, '\xff');             // then a key length that never ends
  CHECK(cp::DecodeCommit(body, &out).IsCorruption());
  CHECK(out.reads.capacity() <= 1024);

  body.clear();
  PutLengthPrefixed(&body, "checkpoint");
  PutVarint64(&body, kBody / 2);           // args
  body.resize(kBody, '\x80');             // then a length that never ends
  std::string verb;
  std::vector<std::string> args;
  CHECK(cp::DecodeAdmin(body, &verb, &args).IsCorruption());
  CHECK(args.capacity() <= 1024);
}

TEST_CASE("UnknownStatusCodeKeepsTheMessage") {
  std::string body;
  body.push_back(static_cast<char>(200));
  PutLengthPrefixed(&body, "from the future");
  std::string text;
  Status s = cp::DecodeAdminReply(body, &text);
  CHECK_FALSE(s.ok());
  CHECK(s.message() == "from the future");
}

}  // namespace
}  // namespace tranship
