// The logsender's handshake: who is welcomed where, and every refusal with the words
// both logs show.

#include <doctest/doctest.h>

#include <filesystem>

#include "test/logsender/sender_fixture.h"

namespace tranship::logsender::test {
namespace {

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_CASE("HelloFromStartIsWelcomedAtTheFirstFileHeader") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(10);
  f.StartSender();
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return !r->welcomes.empty(); }));
  CHECK(r->welcomes[0].sender_stone == "prod");
  CHECK(r->welcomes[0].start == Position{1, 0});
  CHECK(r->welcomes[0].primary_end.pos == f.writer->end());
  CHECK(r->welcomes[0].primary_end.tid == 10);
  CHECK(r->welcomes[0].keepalive_ms == 1000);
  CHECK(r->welcomes[0].timeout_ms == 10000);
  CHECK(r->refusals.empty());
}

TEST_CASE("SixthReceiverIsRefusedNamingTheFiveServed") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(3);
  f.StartSender();
  for (int i = 0; i < 5; i++) f.ConnectFromStart("standby" + std::to_string(i));
  REQUIRE(f.RunUntil([&] {
    for (auto& r : f.receivers)
      if (r->welcomes.empty()) return false;
    return true;
  }));
  FakeReceiver* sixth = f.ConnectFromStart("standby6");
  REQUIRE(f.RunUntil([&] { return sixth->closed; }));
  REQUIRE(sixth->refusals.size() == 1);
  CHECK(sixth->refusals[0].code == wire::RefuseCode::kTooManyReceivers);
  const std::string& m = sixth->refusals[0].message;
  CHECK(Contains(m, "this logsender already serves 5 logreceivers (the limit): "));
  for (int i = 0; i < 5; i++) CHECK(Contains(m, "(standby 'standby" + std::to_string(i) + "')"));
  CHECK(sixth->welcomes.empty());
  // The five keep being served.
  for (int i = 0; i < 5; i++) CHECK(!f.receivers[i]->closed);
}

TEST_CASE("ForkInTimeNamesBothLineagesAndPositions") {
  SenderFixture f;
  f.CreateHistory(Lineage{0xaa, 0xbb});
  f.Commit(10);
  f.StartSender();
  // A standby whose archive ends where the primary has a record boundary, but after
  // another history (another chain).
  Result<std::unique_ptr<tranlog::FileReader>> rd = tranlog::FileReader::Open(f.env, f.Path(1));
  REQUIRE(rd.ok());
  tranlog::RecordRef rec;
  for (int i = 0; i < 4; i++) REQUIRE((*rd)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);
  wire::Hello h = SenderFixture::FromStart();
  h.mode = wire::StartMode::kResume;
  h.lineage = Lineage{0xcc, 0xdd};
  h.resume = Position{1, (*rd)->offset()};
  h.resume_tid = 4;
  h.resume_chain = (*rd)->chain() ^ 1;
  FakeReceiver* r = f.Connect();
  r->SendHello(h);
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  REQUIRE(r->refusals.size() == 1);
  CHECK(r->refusals[0].code == wire::RefuseCode::kForkInTime);
  const std::string& m = r->refusals[0].message;
  INFO(m);
  CHECK(Contains(m, "fork in time: this standby's archive ends at " + h.resume.ToString()));
  CHECK(Contains(m, Lineage{0xcc, 0xdd}.ToHex()));
  CHECK(Contains(m, Lineage{0xaa, 0xbb}.ToHex()));
  CHECK(Contains(m, "primary stone 'prod'"));
  CHECK(Contains(m, "TID 4 has chain"));
  CHECK(Contains(m, "Reseed this standby from a new backup of the primary."));
}

TEST_CASE("ForkInTimeWhenTheStandbyIsAheadOrOffARecordBoundary") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(5);
  f.StartSender();
  DurableEnd end = f.sender->durable_end();

  wire::Hello ahead = SenderFixture::FromStart();
  ahead.mode = wire::StartMode::kResume;
  ahead.resume = Position{1, end.pos.offset + 500};
  ahead.resume_tid = 9;
  FakeReceiver* a = f.Connect();
  a->SendHello(ahead);

  wire::Hello inside = ahead;
  inside.resume = Position{1, end.pos.offset - 7};
  inside.resume_tid = 5;
  FakeReceiver* b = f.Connect();
  b->SendHello(inside);

  wire::Hello far_file = ahead;
  far_file.resume = Position{3, 0};
  FakeReceiver* c = f.Connect();
  c->SendHello(far_file);

  REQUIRE(f.RunUntil([&] { return a->closed && b->closed && c->closed; }));
  for (FakeReceiver* r : {a, b, c}) {
    REQUIRE(r->refusals.size() == 1);
    CHECK(r->refusals[0].code == wire::RefuseCode::kForkInTime);
  }
  CHECK(Contains(a->refusals[0].message, "its durable end is " + end.pos.ToString()));
  CHECK(Contains(b->refusals[0].message, "is inside the record of TID 5"));
  CHECK(Contains(c->refusals[0].message, "its durable end is"));
}

TEST_CASE("TranlogGoneWhenTheFirstFileWasRemoved") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(3);
  f.Rotate();
  f.Commit(3);
  std::filesystem::remove(f.Path(1));
  f.StartSender();
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  REQUIRE(r->refusals.size() == 1);
  CHECK(r->refusals[0].code == wire::RefuseCode::kTranlogGone);
  INFO(r->refusals[0].message);
  CHECK(Contains(r->refusals[0].message, "tranlog 1 (tranlog1.dbf)"));
  CHECK(Contains(r->refusals[0].message, "is no longer on the primary (its oldest is tranlog 2"));
}

TEST_CASE("TranlogGoneForAResumeInARemovedFile") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(3);
  f.Rotate();
  f.Rotate();
  f.Commit(3);
  std::filesystem::remove(f.Path(1));
  f.StartSender();
  wire::Hello h = SenderFixture::FromStart();
  h.mode = wire::StartMode::kResume;
  h.resume = Position{1, 500};
  h.resume_tid = 2;
  FakeReceiver* r = f.Connect();
  r->SendHello(h);
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  REQUIRE(r->refusals.size() == 1);
  CHECK(r->refusals[0].code == wire::RefuseCode::kTranlogGone);
  CHECK(Contains(r->refusals[0].message, "tranlog 1 (tranlog1.dbf), which this standby needs"));
}

TEST_CASE("OtherProtocolVersionIsRefused") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(1);
  f.StartSender();
  wire::Hello h = SenderFixture::FromStart();
  h.version = wire::kProtocolVersion + 1;
  FakeReceiver* r = f.Connect();
  r->SendHello(h);
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  REQUIRE(r->refusals.size() == 1);
  CHECK(r->refusals[0].code == wire::RefuseCode::kProtocolVersion);
  CHECK(Contains(r->refusals[0].message, "speaks shipping protocol version 2"));
  CHECK(Contains(r->refusals[0].message, "speaks version 1"));
}

TEST_CASE("ResumeAtARecordBoundaryContinuesThere") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(6);
  f.StartSender();
  Result<std::unique_ptr<tranlog::FileReader>> rd = tranlog::FileReader::Open(f.env, f.Path(1));
  REQUIRE(rd.ok());
  tranlog::RecordRef rec;
  for (int i = 0; i < 3; i++) REQUIRE((*rd)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);
  wire::Hello h = SenderFixture::FromStart();
  h.mode = wire::StartMode::kResume;
  h.lineage = Lineage{7, 7};
  h.resume = Position{1, (*rd)->offset()};
  h.resume_tid = 3;
  h.resume_chain = (*rd)->chain();
  FakeReceiver* r = f.Connect();
  r->SendHello(h);
  REQUIRE(f.RunUntil([&] { return !r->data.empty() && r->LastEnd() == f.writer->end(); }));
  CHECK(r->welcomes.at(0).start == h.resume);
  CHECK(r->data[0].h.offset == h.resume.offset);
  CHECK(r->data[0].raw == f.FileBytes(1, f.writer->end().offset).substr(h.resume.offset));
  CHECK(r->LastTid() == 6);
}

TEST_CASE("ResumeAfterALogSwitchWaitsForTheNextFile") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(2);
  f.StartSender();
  // The receiver has all of tranlog 1, up to its log switch; tranlog 2 has no record yet.
  REQUIRE(f.writer->Rotate(5).ok());
  f.RunFor(std::chrono::milliseconds(50));
  DurableEnd end = f.sender->durable_end();
  REQUIRE(end.pos.file_id == 2);
  wire::Hello h = SenderFixture::FromStart();
  h.mode = wire::StartMode::kResume;
  h.resume = Position{2, 0};
  h.resume_tid = end.tid;
  h.resume_chain = end.chain;
  FakeReceiver* r = f.Connect();
  r->SendHello(h);
  REQUIRE(f.RunUntil([&] { return !r->welcomes.empty(); }));
  CHECK(r->welcomes[0].start == Position{2, 0});
  f.Commit(1);
  REQUIRE(f.RunUntil([&] { return !r->data.empty(); }));
  CHECK(r->data[0].h.file_id == 2);
  CHECK(r->data[0].h.offset == 0);
  CHECK(r->LastTid() == end.tid + 1);
}

TEST_CASE("AfterTidStartsAtTheHeaderOfTheFileHoldingTheNextTid") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(4);  // TIDs 1-4
  f.Rotate();   // TID 5: log switch
  f.Commit(4);  // TIDs 6-9 in tranlog 2
  f.StartSender();
  Result<std::unique_ptr<tranlog::FileReader>> rd = tranlog::FileReader::Open(f.env, f.Path(2));
  REQUIRE(rd.ok());
  tranlog::RecordRef rec;
  REQUIRE((*rd)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);  // TID 6
  REQUIRE((*rd)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);  // TID 7
  wire::Hello h = SenderFixture::FromStart();
  h.mode = wire::StartMode::kAfterTid;
  h.resume_tid = 7;
  h.resume_chain = rec.header.chain;
  FakeReceiver* good = f.Connect();
  good->SendHello(h);
  h.resume_chain ^= 0x10;
  FakeReceiver* forked = f.Connect();
  forked->SendHello(h);
  REQUIRE(f.RunUntil([&] { return !good->data.empty() && forked->closed; }));
  CHECK(good->welcomes.at(0).start == Position{2, 0});
  CHECK(good->data[0].h.offset == 0);
  REQUIRE(forked->refusals.size() == 1);
  CHECK(forked->refusals[0].code == wire::RefuseCode::kForkInTime);
  CHECK(Contains(forked->refusals[0].message, "ends at TID 7"));
}

TEST_CASE("PeerThatSendsNoHelloIsDroppedAtTheTimeout") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(1);
  LogSenderOptions o = f.Options();
  o.timeout_ms = 300;
  f.StartSender(o);
  FakeReceiver* silent = f.Connect();
  FakeReceiver* talker = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return silent->closed; }));
  CHECK(silent->welcomes.empty());
  CHECK(!talker->welcomes.empty());
}

TEST_CASE("AFloodOfSilentConnectionsPushesOutOnlyItsOwnOldest") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(1);
  f.StartSender();  // timeout 10 s: the flood stays until the test is over
  std::vector<FakeReceiver*> flood;
  for (int i = 0; i < 100; i++) flood.push_back(f.Connect());
  FakeReceiver* real = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return !real->welcomes.empty(); }));
  CHECK(!real->closed);
  // 64 silent connections are left, the newest ones; the older 37 were dropped.
  REQUIRE(f.RunUntil([&] {
    int closed = 0;
    for (FakeReceiver* r : flood) closed += r->closed;
    return closed == 37;
  }));
  for (int i = 0; i < 100; i++) CHECK(flood[static_cast<size_t>(i)]->closed == (i < 37));
  for (FakeReceiver* r : flood) CHECK(r->welcomes.empty());
}

// A receiver's frame that never completes (a damaged length on a plaintext link, the
// rest of its stream trickling in) is dropped at the timeout like a silent one.
TEST_CASE("AFrameThatNeverCompletesIsDroppedAtTheTimeout") {
  SenderFixture f;
  f.CreateHistory();
  f.Commit(1);
  LogSenderOptions o = f.Options();
  o.timeout_ms = 300;
  f.StartSender(o);
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return !r->welcomes.empty(); }));
  // An Ack header claiming 4000 bytes (an Ack is 24), then a byte per loop turn.
  r->Send(std::string{char(0xa0), char(0x0f), char(0), char(0), char(wire::MsgType::kAck)});
  size_t trickled = 0;
  REQUIRE(f.RunUntil([&] {
    if (trickled < 3900) {
      r->Send(std::string(1, 'k'));
      trickled++;
    }
    return r->closed;
  }));
  CHECK(trickled < 3900);
}

}  // namespace
}  // namespace tranship::logsender::test
