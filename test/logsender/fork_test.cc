// The fork rule (docs/protocol.md, "Which positions are on the primary's history") over
// real tranlog files that hold a commit-restore: lineage L1 in tranlogs 1 to 3, a backup
// point P in tranlog 2, an abandoned branch of L1 after P (the rest of tranlog 2 and
// tranlog 3), and lineage L2 from tranlog 4 on, whose lineage-start record continues L1
// at P — as a primary writes it after restore-from-backup and commit-restore.

#include <doctest/doctest.h>

#include <filesystem>

#include "test/logsender/sender_fixture.h"

namespace tranship::logsender::test {
namespace {

const Lineage kL1{0x11, 0x11};
const Lineage kL2{0x22, 0x22};

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Where a history stands after a record: its end, TID and chain.
struct Point {
  Position pos;
  uint64_t tid = 0;
  uint64_t chain = 0;
};

struct ForkFixture : SenderFixture {
  Point p;          // the backup point: L2 continues L1 from here
  Point abandoned;  // the end of L1's abandoned branch
  Point early;      // a point of L1 in tranlog 1, before P
  uint64_t new_file = 0;

  Point Here() { return Point{writer->end(), writer->last_tid(), writer->chain()}; }

  void Lineage1() {
    auto w = tranlog::Writer::CreateFile(WriterOpts(), kL1, 1, 1, 0);
    REQUIRE(w.ok());
    writer = std::move(*w);
    tranlog::LineageStartPayload ls;
    ls.lineage = kL1;
    writer->Add(tranlog::RecordType::kLineageStart, tranlog::kFlagBatchStart, 1000000 + ts++,
                AsBytes(tranlog::EncodeLineageStart(ls)));
    REQUIRE(writer->Flush().ok());
    Commit(20);
    early = Here();
    Commit(20);
    Rotate();
    Commit(30);
    p = Here();
    Commit(25);  // after P: abandoned
    Rotate();
    Commit(40);
    abandoned = Here();
    REQUIRE(writer->Close().ok());
    writer.reset();
  }
  // commit-restore at P: a new file above every id, a lineage-start record first.
  void CommitRestoreAtP(uint64_t file_id = 4) {
    new_file = file_id;
    auto w = tranlog::Writer::CreateFile(WriterOpts(), kL2, file_id, p.tid + 1, p.chain);
    REQUIRE(w.ok());
    writer = std::move(*w);
    tranlog::LineageStartPayload ls;
    ls.lineage = kL2;
    ls.parent = kL1;
    ls.parent_end = p.pos;
    ls.parent_tid = p.tid;
    writer->Add(tranlog::RecordType::kLineageStart, tranlog::kFlagBatchStart, 1000000 + ts++,
                AsBytes(tranlog::EncodeLineageStart(ls)));
    REQUIRE(writer->Flush().ok());
  }
  static wire::Hello ResumeAt(const Point& at, Lineage lineage) {
    wire::Hello h = FromStart();
    h.mode = wire::StartMode::kResume;
    h.lineage = lineage;
    h.resume = at.pos;
    h.resume_tid = at.tid;
    h.resume_chain = at.chain;
    return h;
  }
  static wire::Hello AfterTid(const Point& at, Lineage lineage) {
    wire::Hello h = FromStart();
    h.mode = wire::StartMode::kAfterTid;
    h.lineage = lineage;
    h.resume_tid = at.tid;
    h.resume_chain = at.chain;
    return h;
  }
  FakeReceiver* Say(const wire::Hello& h) {
    FakeReceiver* r = Connect();
    r->SendHello(h);
    REQUIRE(RunUntil([&] { return !r->welcomes.empty() || r->closed; }));
    return r;
  }
  // Runs until the receiver's frames reach the primary's durable end.
  void ReceiveAll(FakeReceiver* r) {
    REQUIRE(RunUntil([&] { return !r->data.empty() && r->LastEnd() == writer->end(); }));
  }
};

void ExpectAbandonedBranchRefusal(const FakeReceiver* r, const ForkFixture& f) {
  REQUIRE(r->refusals.size() == 1);
  CHECK(r->refusals[0].code == wire::RefuseCode::kForkInTime);
  const std::string& m = r->refusals[0].message;
  INFO(m);
  CHECK(Contains(m, kL1.ToHex()));
  CHECK(Contains(m, kL2.ToHex()));
  // Where L2 leaves L1, and where the standby stands.
  CHECK(Contains(m, fmt::format("after lineage {} up to TID {} ({})", kL1.ToHex(), f.p.tid,
                                f.p.pos.ToString())));
  CHECK(Contains(m, fmt::format("lineage {} from TID {} (tranlog 4 offset 0)", kL2.ToHex(),
                                f.p.tid + 1)));
  CHECK(Contains(m, "Reseed this standby from a new backup of the primary."));
  CHECK(r->welcomes.empty());
  CHECK(r->data.empty());
}

TEST_CASE("AReceiverOnTheAbandonedBranchIsRefusedNamingBothLineagesAndPositions") {
  ForkFixture f;
  f.Lineage1();
  f.CommitRestoreAtP();
  f.Commit(80);  // L2 reaches past the abandoned branch's TIDs
  REQUIRE(f.writer->last_tid() > f.abandoned.tid);
  f.StartSender();
  SUBCASE("resume at the end of the abandoned branch") {
    FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.abandoned, kL1));
    REQUIRE(f.RunUntil([&] { return r->closed; }));
    ExpectAbandonedBranchRefusal(r, f);
    CHECK(Contains(r->refusals[0].message,
                   "this standby's archive ends at " + f.abandoned.pos.ToString()));
    CHECK(Contains(r->refusals[0].message, "on a branch the primary abandoned"));
  }
  SUBCASE("resume one record after P, in the file that holds P") {
    Result<std::unique_ptr<tranlog::FileReader>> rd = tranlog::FileReader::Open(f.env, f.Path(2));
    REQUIRE(rd.ok());
    (*rd)->SeekTo(f.p.pos.offset, f.p.tid + 1, f.p.chain);
    tranlog::RecordRef rec;
    REQUIRE((*rd)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);
    Point after{Position{2, (*rd)->offset()}, rec.header.tid, rec.header.chain};
    FakeReceiver* r = f.Say(ForkFixture::ResumeAt(after, kL1));
    REQUIRE(f.RunUntil([&] { return r->closed; }));
    ExpectAbandonedBranchRefusal(r, f);
  }
  SUBCASE("a stone restored on the abandoned branch (after TID)") {
    FakeReceiver* r = f.Say(ForkFixture::AfterTid(f.abandoned, kL1));
    REQUIRE(f.RunUntil([&] { return r->closed; }));
    ExpectAbandonedBranchRefusal(r, f);
    CHECK(Contains(r->refusals[0].message, "this standby's stone 'standby1' ends at TID"));
  }
}

TEST_CASE("AReceiverAheadOnTheAbandonedBranchIsRefusedToo") {
  ForkFixture f;
  f.Lineage1();
  f.CommitRestoreAtP();
  f.Commit(5);  // L2 is still short of the abandoned branch's end
  REQUIRE(f.writer->last_tid() < f.abandoned.tid);
  f.StartSender();
  FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.abandoned, kL1));
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  ExpectAbandonedBranchRefusal(r, f);
}

TEST_CASE("AReceiverBeforeTheForkGetsL1UpToPThenL2AndNothingOfTheAbandonedBranch") {
  ForkFixture f;
  f.Lineage1();
  f.CommitRestoreAtP();
  f.Commit(30);
  f.StartSender();
  FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.early, kL1));
  REQUIRE(r->welcomes.size() == 1);
  CHECK(r->welcomes[0].start == f.early.pos);
  f.ReceiveAll(r);
  std::map<uint64_t, std::string> got;
  for (const FakeReceiver::Data& d : r->data) got[d.h.file_id] += d.raw;
  CHECK(got.count(3) == 0);  // the abandoned tranlog 3 is never shipped
  CHECK(got[1] == f.FileBytes(1).substr(f.early.pos.offset));
  CHECK(got[2] == f.FileBytes(2, f.p.pos.offset));  // tranlog 2 only up to P
  CHECK(got[4] == f.FileBytes(4, f.writer->end().offset));
  CHECK(r->LastTid() == f.writer->last_tid());
  // The acknowledgements of both sides of the junction are taken.
  r->SendAck(f.p.pos, f.p.tid);
  r->SendAck(f.writer->end(), f.writer->last_tid());
  f.RunFor(std::chrono::milliseconds(50));
  CHECK(!r->closed);
}

TEST_CASE("AReceiverExactlyAtTheJunctionGoesOnWithTheNewLineagesFirstFile") {
  ForkFixture f;
  f.Lineage1();
  f.CommitRestoreAtP();
  f.Commit(10);
  f.StartSender();
  FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.p, kL1));
  REQUIRE(r->welcomes.size() == 1);
  CHECK(r->welcomes[0].start == Position{4, 0});
  f.ReceiveAll(r);
  CHECK(r->data.front().h.file_id == 4);
  CHECK(r->data.front().h.offset == 0);
  // Another chain at P's TID is another history.
  wire::Hello other = ForkFixture::ResumeAt(f.p, kL1);
  other.resume_chain ^= 1;
  FakeReceiver* r2 = f.Say(other);
  REQUIRE(f.RunUntil([&] { return r2->closed; }));
  REQUIRE(r2->refusals.size() == 1);
  CHECK(r2->refusals[0].code == wire::RefuseCode::kForkInTime);
}

TEST_CASE("AfterTidBeforeTheForkShipsTheWholeFileHoldingTheNextTid") {
  ForkFixture f;
  f.Lineage1();
  f.CommitRestoreAtP();
  f.Commit(10);
  f.StartSender();
  FakeReceiver* r = f.Say(ForkFixture::AfterTid(f.early, kL1));
  REQUIRE(r->welcomes.size() == 1);
  CHECK(r->welcomes[0].start == Position{1, 0});
  f.ReceiveAll(r);
  std::map<uint64_t, std::string> got = Reassemble(*r);
  CHECK(got.count(3) == 0);
  CHECK(got[2] == f.FileBytes(2, f.p.pos.offset));
}

// After a planned failover the new primary holds only its own files: the parent's are
// in the old primary's and the standbys' archives.
TEST_CASE("AtTheJunctionWhenTheParentsFilesAreNotOnThisPrimary") {
  ForkFixture f;
  f.Lineage1();
  for (uint64_t id = 1; id <= 3; id++) std::filesystem::remove(f.Path(id));
  f.CommitRestoreAtP(7);
  f.Commit(10);
  f.StartSender();
  SUBCASE("an archive that ends at the failover checkpoint") {
    FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.p, kL1));
    REQUIRE(r->welcomes.size() == 1);
    CHECK(r->welcomes[0].start == Position{7, 0});
    f.ReceiveAll(r);
  }
  SUBCASE("the old primary restarted in restore mode, with an empty archive") {
    FakeReceiver* r = f.Say(ForkFixture::AfterTid(f.p, kL1));
    REQUIRE(r->welcomes.size() == 1);
    CHECK(r->welcomes[0].start == Position{7, 0});
    f.ReceiveAll(r);
  }
  SUBCASE("a standby behind the failover checkpoint needs the parent's files") {
    FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.early, kL1));
    REQUIRE(f.RunUntil([&] { return r->closed; }));
    REQUIRE(r->refusals.size() == 1);
    CHECK(r->refusals[0].code == wire::RefuseCode::kTranlogGone);
  }
  SUBCASE("a standby past it is on another branch") {
    FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.abandoned, kL1));
    REQUIRE(f.RunUntil([&] { return r->closed; }));
    REQUIRE(r->refusals.size() == 1);
    CHECK(r->refusals[0].code == wire::RefuseCode::kForkInTime);
  }
}

// The primary restores a backup and commits the restore while a receiver streams: the
// receiver, past the backup's point, is refused once the new lineage appears.
TEST_CASE("AStreamingReceiverIsRefusedWhenThePrimaryForks") {
  ForkFixture f;
  f.Lineage1();
  // The abandoned branch is the primary's history until the commit-restore.
  f.StartSender();
  FakeReceiver* r = f.Say(ForkFixture::ResumeAt(f.early, kL1));
  REQUIRE(r->welcomes.size() == 1);
  REQUIRE(f.RunUntil([&] { return !r->data.empty() && r->LastEnd() == f.abandoned.pos; }));
  f.CommitRestoreAtP();
  f.Commit(5);
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  REQUIRE(r->refusals.size() == 1);
  CHECK(r->refusals[0].code == wire::RefuseCode::kForkInTime);
  CHECK(Contains(r->refusals[0].message, kL2.ToHex()));
  // A new receiver from the start follows the new history.
  FakeReceiver* r2 = f.Say(SenderFixture::FromStart("standby2"));
  REQUIRE(r2->welcomes.size() == 1);
  f.ReceiveAll(r2);
  std::map<uint64_t, std::string> got = Reassemble(*r2);
  CHECK(got.count(3) == 0);
  CHECK(got[2] == f.FileBytes(2, f.p.pos.offset));
}

// restore-snapshot on a primary whose logsender runs: the tranlog is put back to an
// earlier state (shorter) and a new lineage begins after it, while a receiver that was
// sent records past the snapshot waits for its window to open. Its next frame cannot be
// read: the logsender must see that the history changed and tell the receiver of the
// fork (or drop it, to be told on its reconnect), never refuse it with "tranlog gone".
TEST_CASE("APrimaryPutBackToAnEarlierStateRefusesAForkNeverTranlogGone") {
  ForkFixture f;
  f.CreateHistory(kL1);
  f.Commit(40);
  f.p = f.Here();  // the snapshot
  const std::string snapshot = f.FileBytes(1, f.p.pos.offset);
  f.Commit(200);
  const std::string before = f.FileBytes(1);
  LogSenderOptions o = f.Options();
  o.window_bytes = 128 << 10;  // the receiver gets past the snapshot, then waits for an ack
  o.frame_target = 16 << 10;
  o.disk_poll_ms = 3600 * 1000;  // the first scan only: the failed read finds the change
  f.StartSender(o);
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return r->raw_bytes() >= o.window_bytes; }));
  f.RunFor(std::chrono::milliseconds(20));
  const Position got = r->LastEnd();
  REQUIRE(f.p.pos < got);
  REQUIRE(got < f.writer->end());

  // The snapshot goes back in place; a new lineage begins after it.
  f.writer.reset();
  tranship::test::WriteAll(f.Path(1), snapshot);
  f.CommitRestoreAtP(2);
  f.Commit(5);
  r->SendAck(got, r->LastTid());
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  for (const wire::Refuse& x : r->refusals) {
    INFO(x.message);
    CHECK(x.code == wire::RefuseCode::kForkInTime);
  }

  // Where its archive ends, as its receiver would say on reconnecting.
  tranship::test::WriteAll(f.dir / "before.dbf", before);
  auto rd = tranlog::FileReader::Open(f.env, f.dir / "before.dbf");
  REQUIRE(rd.ok());
  tranlog::RecordRef rec;
  while ((*rd)->offset() < got.offset) {
    REQUIRE((*rd)->Next(&rec) == tranlog::FileReader::Outcome::kRecord);
  }
  std::filesystem::remove(f.dir / "before.dbf");
  Point archive{got, rec.header.tid, rec.header.chain};
  FakeReceiver* again = f.Say(ForkFixture::ResumeAt(archive, kL1));
  REQUIRE(f.RunUntil([&] { return again->closed; }));
  REQUIRE(again->refusals.size() == 1);
  CHECK(again->refusals[0].code == wire::RefuseCode::kForkInTime);
  CHECK(Contains(again->refusals[0].message, kL2.ToHex()));
  CHECK(Contains(again->refusals[0].message,
                 fmt::format("after lineage {} up to TID {} ({})", kL1.ToHex(), f.p.tid,
                             f.p.pos.ToString())));
}

// The same files put back without a new lineage (a copy restored by hand), then written
// on under the old lineage: the receiver past the copy is dropped, not refused with
// "tranlog gone", and its reconnect is refused as a fork.
TEST_CASE("ACopyPutBackUnderTheSameLineageIsAForkForTheReceiverPastIt") {
  ForkFixture f;
  f.CreateHistory(kL1);
  f.Commit(40);
  f.p = f.Here();
  const std::string snapshot = f.FileBytes(1, f.p.pos.offset);
  f.Commit(200);
  LogSenderOptions o = f.Options();
  o.window_bytes = 128 << 10;
  o.frame_target = 16 << 10;
  o.disk_poll_ms = 3600 * 1000;
  f.StartSender(o);
  FakeReceiver* r = f.ConnectFromStart();
  REQUIRE(f.RunUntil([&] { return r->raw_bytes() >= o.window_bytes; }));
  f.RunFor(std::chrono::milliseconds(20));
  const Position got = r->LastEnd();
  REQUIRE(f.p.pos < got);

  f.writer.reset();
  tranship::test::WriteAll(f.Path(1), snapshot);
  auto header = tranlog::FileReader::Open(f.env, f.Path(1));
  REQUIRE(header.ok());
  auto w = tranlog::Writer::OpenExisting(f.WriterOpts(), (*header)->header(), f.Path(1),
                                         f.p.pos.offset, f.p.tid + 1, f.p.chain);
  REQUIRE(w.ok());
  f.writer = std::move(*w);
  f.Commit(300);  // past where the receiver got, with other records
  r->SendAck(got, r->LastTid());
  REQUIRE(f.RunUntil([&] { return r->closed; }));
  CHECK(r->refusals.empty());  // dropped: its archive decides when it reconnects
}
}  // namespace
}  // namespace tranship::logsender::test
