// The logsender's data path: frames carry whole records and are contiguous, receivers
// at the same place share one compression, the window and the Ack rules, keepalives,
// and what a misbehaving receiver does to the others (nothing).

#include <doctest/doctest.h>

#include "base/coding.h"
#include "test/logsender/sender_fixture.h"

namespace tranship::logsender::test {
namespace {

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Acknowledges everything received so far, as a receiver does once it is durable.
void AckAll(FakeReceiver* r) { r->SendAck(r->LastEnd(), r->LastTid()); }

// Receives and acknowledges up to the writer's end, then checks that the frames put
// together (contiguous, Reassemble checks) are the primary's three files byte for byte.
void ExpectThreeFilesShipped(SenderFixture& f, FakeReceiver* r) {
  Position end = f.writer->end();
  REQUIRE(f.RunUntil([&] {
    if (!r->data.empty()) AckAll(r);
    return r->LastEnd() == end;
  }));
  std::map<uint64_t, std::string> files = Reassemble(*r);
  REQUIRE(files.size() == 3);
  CHECK(files[1] == f.FileBytes(1));
  CHECK(files[2] == f.FileBytes(2));
  CHECK(files[3] == f.FileBytes(3, end.offset));
  CHECK(r->LastTid() == f.writer->last_tid());
}

// Three files of commits in batches of 7 and 3, and a few single ones in the newest.
void WriteThreeFiles(SenderFixture& f) {
  f.CreateHistory();
  f.Commit(300, 900, 7);
  f.Rotate();
  f.Commit(200, 3000, 3);
  f.Rotate();
  f.Commit(5);
}

// ~9 MB of commits zstd cannot shrink, in two files: far more than the catch-up
// distance (4 MiB) behind for a receiver from the start.
void WriteIncompressibleBacklog(SenderFixture& f) {
  f.CreateHistory();
  f.Commit(3000, 1500, 2, true);
  f.Rotate();
  f.Commit(3000, 1500, 2, true);
}

TEST_CASE("FramesCarryWholeRecordsAndAreContiguousAcrossFiles") {
  SenderFixture f;
  WriteThreeFiles(f);
  f.StartSender();
  FakeReceiver* r = f.ConnectFromStart();
  ExpectThreeFilesShipped(f, r);
  for (const FakeReceiver::Data& d : r->data) {
    CHECK(d.h.raw_length <= (64u << 10) + 3100);  // the target, or one record past it
  }
  CHECK(r->data.size() > 10);
}

TEST_CASE("AReceiverFarBehindGetsFramesBuiltAheadYetEveryRecordOnceAndInOrder") {
  // More than the catch-up distance (4 MiB) behind: frames are cut and compressed
  // several at a time (LogSender::kBuildsAhead), finishing in any order.
  SenderFixture f;
  WriteIncompressibleBacklog(f);
  f.Rotate();
  f.Commit(50);
  f.StartSender();
  FakeReceiver* r = f.ConnectFromStart();
  ExpectThreeFilesShipped(f, r);
  CHECK(r->data.size() > 64);
  CHECK(f.sender->stats().frames_built == r->data.size());  // none built twice
  // Each cut for a receiver catching up (until 4 MiB from the end, a third of this
  // history) starts the next one at once.
  CHECK(f.sender->stats().frames_read_ahead >= r->data.size() / 3);
}

TEST_CASE("FramesAreBuiltOnlyAFewAheadOfWhatTheLinkTakes") {
  // A receiver catching up that does not acknowledge: its window fills after 4 frames.
  // Read-ahead stops a few frames further (it would otherwise build the whole backlog,
  // and on a slow link push unsent frames out of the cache to build them again).
  SenderFixture f;
  WriteIncompressibleBacklog(f);
  LogSenderOptions o = f.Options();
  o.window_bytes = 4 * o.frame_target;
  f.StartSender(o);
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return r->data.size() >= 4; }));
  f.RunFor(std::chrono::milliseconds(300));
  CHECK(r->data.size() <= 5);  // the window: 4 frames of a little less than the target
  CHECK(f.sender->stats().frames_built <= r->data.size() + 5);  // 4 targets ahead
  // Acknowledged from here on, it gets everything, each frame built once.
  Position end = f.writer->end();
  REQUIRE(f.RunUntil([&] {
    AckAll(r);
    return r->LastEnd() == end;
  }));
  CHECK(f.sender->stats().frames_built == r->data.size());
}

TEST_CASE("ZstdLevelSetsHowFramesAreCompressed") {
  // --zstd-level off: every frame goes as it is; a fast negative level still compresses.
  // Either way the frames put together are the primary's files.
  for (int level : {kUncompressed, -20, kDefaultZstdLevel}) {
    CAPTURE(level);
    SenderFixture f;
    WriteThreeFiles(f);
    LogSenderOptions o = f.Options();
    o.zstd_level = level;
    f.StartSender(o);
    FakeReceiver* r = f.ConnectFromStart();
    ExpectThreeFilesShipped(f, r);
    size_t zstd_frames = 0;
    for (const FakeReceiver::Data& d : r->data) {
      if (d.h.flags & wire::kDataZstd) zstd_frames++;
    }
    if (level == kUncompressed) {
      CHECK(zstd_frames == 0);
      CHECK(f.sender->stats().frames_uncompressed == r->data.size());
    } else {
      CHECK(zstd_frames == r->data.size());  // commit records compress at any level
      CHECK(f.sender->stats().frames_uncompressed == 0);
    }
    CHECK(f.sender->Snapshot().zstd_level == DescribeZstdLevel(level));
  }
}

TEST_CASE("NothingBeyondTheDurableEndIsShipped") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(20);
  f.StartSender();
  FakeReceiver* r = f.ConnectFromStart();
  Position end = f.writer->end();
  REQUIRE(f.RunUntil([&] { return r->LastEnd() == end; }));
  // Bytes written after the end but never made durable: the writer's pending batch is
  // not on disk; a torn record is. Neither is shipped.
  std::string torn(100, 'x');
  {
    std::string bytes = tranship::test::ReadAll(f.Path(1));
    bytes.resize(end.offset);
    tranship::test::WriteAll(f.Path(1), bytes + torn);
  }
  f.RunFor(std::chrono::milliseconds(200));
  CHECK(r->LastEnd() == end);
  CHECK(f.sender->durable_end().pos == end);
}

TEST_CASE("NewRecordsStreamAsTheDurableEndAdvances") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(5);
  f.StartSender();
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return r->LastEnd() == f.writer->end(); }));
  REQUIRE(f.RunUntil([&] {
    return !f.statuses.empty() && !f.statuses.back().receivers.empty() &&
           f.statuses.back().receivers[0].state == "streaming";
  }));
  const uint64_t here_before = f.sender->stats().frames_built_here;
  for (int round = 0; round < 5; round++) {
    f.Commit(3);
    REQUIRE(f.RunUntil([&] { return r->LastEnd() == f.writer->end(); }));
    AckAll(r);
  }
  // A few KB at the end of the newest file: cut and compressed on the loop thread, no
  // pool job (LogSender::kInlineBytes).
  CHECK(f.sender->stats().frames_built_here - here_before >= 5);
  std::map<uint64_t, std::string> files = Reassemble(*r);
  CHECK(files[1] == f.FileBytes(1, f.writer->end().offset));
  REQUIRE(f.RunUntil([&] {
    SenderStatus s = f.sender->Snapshot();
    return s.receivers.size() == 1 && s.receivers[0].acked == f.writer->end();
  }));
  SenderStatus s = f.sender->Snapshot();
  CHECK(s.receivers[0].lag_bytes == 0);
  CHECK(s.receivers[0].lag_seconds == 0.0);
  CHECK(s.receivers[0].acked_tid == 20);
  CHECK(s.receivers[0].stone == "standby1");
}

TEST_CASE("ReceiversAtTheSamePlaceShareOneCompression") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(400, 1000, 10);
  f.StartSender();
  FakeReceiver* a = f.ConnectFromStart("a");
  FakeReceiver* b = f.ConnectFromStart("b");
  Position end = f.writer->end();
  REQUIRE(f.RunUntil([&] {
    if (!a->data.empty()) AckAll(a);
    if (!b->data.empty()) AckAll(b);
    return a->LastEnd() == end && b->LastEnd() == end;
  }));
  REQUIRE(a->data.size() == b->data.size());
  for (size_t i = 0; i < a->data.size(); i++) {
    CHECK(a->data[i].h.offset == b->data[i].h.offset);
    CHECK(a->data[i].raw == b->data[i].raw);
  }
  // One read and compression per frame, however many receivers got it.
  CHECK(f.sender->stats().frames_built == a->data.size());
  CHECK(f.sender->stats().frames_sent == 2 * a->data.size());
  CHECK(f.sender->Snapshot().frames_sent == 2 * a->data.size());  // the status file's
}

TEST_CASE("WindowBoundsUnacknowledgedBytes") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(300, 1000);
  LogSenderOptions o = f.Options();
  o.window_bytes = 100 << 10;  // a little over one 64 KiB frame
  f.StartSender(o);
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return r->data.size() == 2; }));
  f.RunFor(std::chrono::milliseconds(200));
  CHECK(r->data.size() == 2);  // the window is full: nothing more without an Ack
  AckAll(r);
  REQUIRE(f.RunUntil([&] { return r->data.size() == 4; }));
  f.RunFor(std::chrono::milliseconds(100));
  CHECK(r->data.size() == 4);
}

TEST_CASE("AckBeyondWhatWasSentDropsOnlyThatReceiver") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(50);
  f.StartSender();
  FakeReceiver* liar = f.ConnectFromStart("liar");
  FakeReceiver* honest = f.ConnectFromStart("honest");
  REQUIRE(f.RunUntil([&] { return !liar->data.empty() && !honest->data.empty(); }));
  Position end = liar->LastEnd();
  liar->SendAck(Position{end.file_id, end.offset + 40}, liar->LastTid() + 1);
  REQUIRE(f.RunUntil([&] { return liar->closed; }));
  CHECK(Contains(liar->close_reason.message(), "closed"));
  f.Commit(5);
  REQUIRE(f.RunUntil([&] { return honest->LastEnd() == f.writer->end(); }));
  CHECK(!honest->closed);
}

TEST_CASE("AckWithAnotherTidOrGoingBackDropsTheReceiver") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(50);
  f.StartSender();
  FakeReceiver* wrong_tid = f.ConnectFromStart("a");
  FakeReceiver* back = f.ConnectFromStart("b");
  REQUIRE(f.RunUntil([&] { return !wrong_tid->data.empty() && !back->data.empty(); }));
  wrong_tid->SendAck(wrong_tid->LastEnd(), wrong_tid->LastTid() + 3);
  AckAll(back);
  back->SendAck(Position{1, 0}, 0);
  REQUIRE(f.RunUntil([&] { return wrong_tid->closed && back->closed; }));
  CHECK(f.sender->stats().frames_sent >= 2);
}

TEST_CASE("GarbageAndOversizeFramesCloseOnlyThatConnection") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(10);
  f.StartSender();
  FakeReceiver* good = f.ConnectFromStart("good");
  FakeReceiver* garbage = f.Connect();
  garbage->Send(std::string("\x05\x00\x00\x00\x63hello", 10));  // unknown type 0x63
  FakeReceiver* oversize = f.Connect();
  std::string big;
  PutFixed32(&big, 1u << 30);  // announces a 1 GiB frame: refused before any allocation
  big.push_back(static_cast<char>(wire::MsgType::kHello));
  oversize->Send(big);
  FakeReceiver* data_from_receiver = f.ConnectFromStart("c");
  std::string d;
  wire::EncodeData(&d, wire::DataHeader{1, 0, 3, 0}, "abc");
  data_from_receiver->Send(d);
  REQUIRE(f.RunUntil(
      [&] { return garbage->closed && oversize->closed && data_from_receiver->closed; }));
  CHECK(garbage->refusals.empty());
  f.Commit(3);
  REQUIRE(f.RunUntil([&] { return good->LastEnd() == f.writer->end(); }));
  CHECK(!good->closed);
}

TEST_CASE("KeepalivesCarryThePrimaryEndAndSilentReceiversAreDropped") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(3);
  LogSenderOptions o = f.Options();
  o.keepalive_ms = 100;
  o.timeout_ms = 600;
  f.StartSender(o);
  FakeReceiver* chatty = f.ConnectFromStart("chatty");
  FakeReceiver* silent = f.ConnectFromStart("silent");
  REQUIRE(f.RunUntil(
      [&] {
        chatty->SendKeepalive();
        return chatty->keepalives.size() >= 3 && silent->closed;
      },
      std::chrono::seconds(5)));
  CHECK(chatty->keepalives.back().primary_end.pos == f.writer->end());
  CHECK(chatty->keepalives.back().primary_end.tid == 3);
  CHECK(!chatty->closed);
}

TEST_CASE("StopSaysGoodbyeToEveryReceiver") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(3);
  f.StartSender();
  FakeReceiver* a = f.ConnectFromStart("a");
  FakeReceiver* b = f.ConnectFromStart("b");
  REQUIRE(f.RunUntil([&] { return !a->welcomes.empty() && !b->welcomes.empty(); }));
  f.Shutdown();
  for (FakeReceiver* r : {a, b}) {
    REQUIRE(f.RunUntil([&] { return r->closed; }));
    REQUIRE(r->refusals.size() == 1);
    CHECK(r->refusals[0].code == wire::RefuseCode::kShuttingDown);
    CHECK(Contains(r->refusals[0].message, "is stopping"));
  }
}

TEST_CASE("BandwidthLimitPacesFrames") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(300, 1000, 1, /*random=*/true);  // incompressible: wire bytes = file bytes
  LogSenderOptions o = f.Options();
  constexpr double kRate = 100 << 10;  // bytes per second on the wire
  o.bandwidth_bytes_per_s = static_cast<uint64_t>(kRate);
  f.StartSender(o);
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return !r->welcomes.empty(); }));
  auto start = std::chrono::steady_clock::now();
  REQUIRE(f.RunUntil([&] {
    if (!r->data.empty()) AckAll(r);
    return r->data.size() >= 3;
  }));
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The bucket holds a tenth of a second (at least 16 KiB); each frame is paid in full
  // before the next may leave, so the third frame waits for the first two.
  double paid = static_cast<double>(r->data[0].raw.size() + r->data[1].raw.size());
  double burst = std::max(kRate / 10, 16384.0);
  CHECK(elapsed >= 0.9 * (paid - burst) / kRate);
  CHECK(r->data[0].h.raw_length >= (64u << 10) - 1100);
}

}  // namespace
}  // namespace tranship::logsender::test
