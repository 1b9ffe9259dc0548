// Tranlog format scenarios: what the reader accepts, what it calls a torn tail, and
// what it reports as corruption with the file and offset.

#include <doctest/doctest.h>

#include "base/crc32c.h"
#include "base/env.h"
#include "base/fault_env.h"
#include "tranlog/format.h"
#include "tranlog/reader.h"
#include "tranlog/writer.h"
#include "test/test_util.h"

namespace tranship::tranlog {
namespace {

using test::TempDir;

struct Fixture {
  TempDir dir;
  Env* env = Env::Default();
  WriterOptions Options(uint64_t max_bytes = 1 << 20) {
    return WriterOptions{env, {dir.path()}, "tranlog", max_bytes};
  }
  std::string Path(uint64_t id) { return dir / FileName("tranlog", id); }

  // Writes `n` commit records of payload "value-i" to a new tranlog 1; returns the
  // offsets the records start at.
  std::vector<uint64_t> WriteRecords(int n) {
    auto w = Writer::CreateFile(Options(), Lineage{1, 2}, 1, 1, 0);
    REQUIRE(w.ok());
    std::vector<uint64_t> offsets;
    for (int i = 0; i < n; i++) {
      offsets.push_back((*w)->end().offset);
      std::string p = "value-" + std::to_string(i);
      (*w)->Add(RecordType::kCommit, 0, 1000 + i, AsBytes(p));
      REQUIRE((*w)->Flush().ok());
    }
    return offsets;
  }

  // A record read back, its payload copied: a RecordRef's payload lives only until the
  // reader's next call.
  struct ReadRecord {
    RecordHeader header;
    std::string payload;
    Position pos;
  };

  std::vector<ReadRecord> ReadAllRecords(const std::string& path, FileReader::Outcome* last,
                                         Damage* damage = nullptr) {
    auto r = FileReader::Open(env, path);
    REQUIRE(r.ok());
    std::vector<ReadRecord> out;
    RecordRef rec;
    while ((*last = (*r)->Next(&rec)) == FileReader::Outcome::kRecord) {
      out.push_back({rec.header, std::string(AsStringView(rec.payload)), rec.pos});
    }
    if (damage) *damage = (*r)->damage();
    return out;
  }
};

// Rewrites the length field of the record at `offset` and fixes its header CRC, so the
// length itself (not the CRC) is what is wrong.
void SetRecordLength(const std::string& path, uint64_t offset, uint32_t length) {
  std::string d = test::ReadAll(path);
  uint8_t* h = reinterpret_cast<uint8_t*>(d.data()) + offset;
  EncodeFixed32(h + 4, length);
  EncodeFixed32(h, crc32c::Value(h + 4, kRecordHeaderSize - 4));
  test::WriteAll(path, d);
}

}  // namespace

TEST_CASE("FileNamesRoundTrip") {
  uint64_t id = 0;
  CHECK(FileName("tranlog", 12) == "tranlog12.dbf");
  CHECK(ParseFileName("tranlog12.dbf", "tranlog", &id));
  CHECK(id == 12);
  CHECK(ParseFileName("prodtranlog7.dbf", "prodtranlog", &id));
  CHECK(id == 7);
  CHECK_FALSE(ParseFileName("tranlog012.dbf", "tranlog", &id));
  CHECK_FALSE(ParseFileName("tranlog.dbf", "tranlog", &id));
  CHECK_FALSE(ParseFileName("tranlog12.dbf.tmp", "tranlog", &id));
  CHECK_FALSE(ParseFileName("prodtranlog12.dbf", "tranlog", &id));
}

TEST_CASE("FileHeaderRoundTripAndChecksum") {
  FileHeader h{Lineage{7, 9}, 3, 100, 0xabcdef, 123456};
  std::string enc = EncodeFileHeader(h);
  REQUIRE(enc.size() == kFileHeaderSize);
  FileHeader d;
  REQUIRE(DecodeFileHeader(AsBytes(enc), &d).ok());
  CHECK(d.lineage == h.lineage);
  CHECK(d.file_id == 3);
  CHECK(d.first_tid == 100);
  CHECK(d.start_chain == 0xabcdef);
  enc[40] ^= 1;
  Status s = DecodeFileHeader(AsBytes(enc), &d);
  CHECK(s.IsCorruption());
  CHECK(s.message().find("checksum") != std::string::npos);
}

TEST_CASE("RecordsReadBackInOrder") {
  Fixture f;
  f.WriteRecords(50);
  FileReader::Outcome last;
  auto recs = f.ReadAllRecords(f.Path(1), &last);
  CHECK(last == FileReader::Outcome::kEnd);
  REQUIRE(recs.size() == 50);
  for (int i = 0; i < 50; i++) {
    CHECK(recs[i].header.tid == static_cast<uint64_t>(i + 1));
    CHECK(recs[i].header.timestamp_us == static_cast<uint64_t>(1000 + i));
  }
}

TEST_CASE("TruncatedTrailingRecordIsATornTail") {
  Fixture f;
  auto offsets = f.WriteRecords(10);
  test::ShrinkSize(f.Path(1), 5);
  FileReader::Outcome last;
  Damage d;
  auto recs = f.ReadAllRecords(f.Path(1), &last, &d);
  CHECK(recs.size() == 9);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(d.offset == offsets[9]);
  CHECK_FALSE(d.valid_data_after);
  VerifyReport rep = VerifyFiles(f.env, {f.Path(1)}, nullptr);
  CHECK(rep.ok());
  REQUIRE(rep.notes.size() == 1);
  CHECK(rep.notes[0].find("torn tail") != std::string::npos);
}

TEST_CASE("ZeroFilledTailIsPreallocatedSpace") {
  Fixture f;
  f.WriteRecords(3);
  std::string d = test::ReadAll(f.Path(1));
  test::WriteAll(f.Path(1), d + std::string(4096, '\0'));
  FileReader::Outcome last;
  Damage dmg;
  auto recs = f.ReadAllRecords(f.Path(1), &last, &dmg);
  CHECK(recs.size() == 3);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(dmg.zero_tail);
  CHECK(dmg.offset == d.size());
  VerifyReport rep = VerifyFiles(f.env, {f.Path(1)}, nullptr);
  CHECK(rep.ok());
  REQUIRE(rep.notes.size() == 1);
  CHECK(rep.notes[0] == "tranlog1.dbf: open file, 4096 bytes of preallocated space after the "
                        "last record at offset " + std::to_string(d.size()));
}

TEST_CASE("ZerosAfterALogSwitchAreNotDamage") {
  Fixture f;
  auto w = Writer::CreateFile(f.Options(), Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  (*w)->Add(RecordType::kCommit, 0, 1, Bytes());
  REQUIRE((*w)->Flush().ok());
  REQUIRE((*w)->Rotate(2).ok());
  std::string d = test::ReadAll(f.Path(1));
  test::WriteAll(f.Path(1), d + std::string(100, '\0'));  // a crash before trimming
  VerifyReport rep = VerifyFiles(f.env, {f.Path(1), f.Path(2)}, nullptr);
  CHECK(rep.ok());
  test::WriteAll(f.Path(1), d + "x");  // anything else after the switch is damage
  rep = VerifyFiles(f.env, {f.Path(1), f.Path(2)}, nullptr);
  REQUIRE(rep.errors.size() == 1);
  CHECK(rep.errors[0] == "tranlog1.dbf offset " + std::to_string(d.size()) +
                             ": data after the log-switch record");
}

TEST_CASE("PreallocationKeepsZerosAheadAndCloseCutsThem") {
  Fixture f;
  auto w = Writer::CreateFile(f.Options(), Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  (*w)->Add(RecordType::kCommit, 0, 1, AsBytes(std::string("x")));
  REQUIRE((*w)->Flush().ok());
  (*w)->Preallocate();
  uint64_t end = (*w)->end().offset;
  CHECK(test::FileSize(f.Path(1)) > end + 100000);
  (*w)->Add(RecordType::kCommit, 0, 2, AsBytes(std::string("y")));
  REQUIRE((*w)->Flush().ok());
  REQUIRE((*w)->Close().ok());
  CHECK(test::FileSize(f.Path(1)) == (*w)->end().offset);
  FileReader::Outcome last;
  auto recs = f.ReadAllRecords(f.Path(1), &last);
  CHECK(last == FileReader::Outcome::kEnd);
  CHECK(recs.size() == 2);
  CHECK((recs[0].header.flags & kFlagBatchStart) != 0);
}

TEST_CASE("ChecksumMismatchInTheMiddleIsReportedWithOffset") {
  Fixture f;
  auto offsets = f.WriteRecords(10);
  test::IncrementByte(f.Path(1), offsets[4] + kRecordHeaderSize + 2);  // a payload byte
  FileReader::Outcome last;
  Damage d;
  auto recs = f.ReadAllRecords(f.Path(1), &last, &d);
  CHECK(recs.size() == 4);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(d.offset == offsets[4]);
  CHECK(d.reason == "payload checksum mismatch");
  CHECK(d.valid_data_after);
  VerifyReport rep = VerifyFiles(f.env, {f.Path(1)}, nullptr);
  REQUIRE(rep.errors.size() == 1);
  CHECK(rep.errors[0] == "tranlog1.dbf offset " + std::to_string(offsets[4]) +
                             ": payload checksum mismatch");
}

TEST_CASE("HeaderChecksumMismatchIsCorruption") {
  Fixture f;
  auto offsets = f.WriteRecords(5);
  test::IncrementByte(f.Path(1), offsets[1] + 20);  // the TID field
  FileReader::Outcome last;
  Damage d;
  f.ReadAllRecords(f.Path(1), &last, &d);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(d.offset == offsets[1]);
  CHECK(d.reason == "record header checksum mismatch");
  CHECK(d.valid_data_after);
}

TEST_CASE("BadLengthIsReported") {
  Fixture f;
  auto offsets = f.WriteRecords(5);
  SetRecordLength(f.Path(1), offsets[2], kMaxRecordSize + 1);
  FileReader::Outcome last;
  Damage d;
  auto recs = f.ReadAllRecords(f.Path(1), &last, &d);
  CHECK(recs.size() == 2);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(d.offset == offsets[2]);
  CHECK(d.reason.find("bad record length") != std::string::npos);
  CHECK(d.valid_data_after);

  SetRecordLength(f.Path(1), offsets[2], 3);  // shorter than a header
  f.ReadAllRecords(f.Path(1), &last, &d);
  CHECK(d.reason.find("bad record length 3") != std::string::npos);
}

TEST_CASE("ChainBreakIsReported") {
  Fixture f;
  auto offsets = f.WriteRecords(5);
  // Replace record 3 by a record with the same TID and valid checksums that follows a
  // different history: only the chain can tell.
  std::string d = test::ReadAll(f.Path(1));
  RecordHeader h;
  REQUIRE(DecodeRecordHeader(reinterpret_cast<const uint8_t*>(d.data()) + offsets[2], &h).ok());
  std::string forged;
  std::string payload = "value-2";
  AppendRecord(&forged, RecordType::kCommit, 0, h.tid, h.timestamp_us, /*prev_chain=*/42,
               AsBytes(payload));
  REQUIRE(forged.size() == h.length);
  d.replace(offsets[2], forged.size(), forged);
  test::WriteAll(f.Path(1), d);
  FileReader::Outcome last;
  Damage dmg;
  auto recs = f.ReadAllRecords(f.Path(1), &last, &dmg);
  CHECK(recs.size() == 2);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(dmg.offset == offsets[2]);
  CHECK(dmg.reason.find("chain break") != std::string::npos);
}

TEST_CASE("TidSequenceBreakIsReported") {
  Fixture f;
  auto w = Writer::CreateFile(f.Options(), Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  (*w)->Add(RecordType::kCommit, 0, 1, Bytes());
  REQUIRE((*w)->Flush().ok());
  // A record whose TID skips one, chained correctly: a gap, not damage to the bytes.
  std::string rec;
  AppendRecord(&rec, RecordType::kCommit, 0, 3, 2, (*w)->chain(), Bytes());
  std::string d = test::ReadAll(f.Path(1));
  test::WriteAll(f.Path(1), d + rec);
  FileReader::Outcome last;
  Damage dmg;
  f.ReadAllRecords(f.Path(1), &last, &dmg);
  REQUIRE(last == FileReader::Outcome::kDamage);
  CHECK(dmg.reason == "TID sequence break: expected 2, found 3");
}

TEST_CASE("RotationEndsFilesWithLogSwitchAndContinuesTheChain") {
  Fixture f;
  auto w = Writer::CreateFile(f.Options(/*max_bytes=*/400), Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  std::string payload(100, 'x');
  for (int i = 0; i < 20; i++) {
    (*w)->Add(RecordType::kCommit, 0, i, AsBytes(payload));
    REQUIRE((*w)->Flush().ok());
    if ((*w)->NeedsRotation()) REQUIRE((*w)->Rotate(i).ok());
  }
  CHECK((*w)->file_id() > 3);
  auto set = ListTranlogs(f.env, {f.dir.path()}, "tranlog");
  REQUIRE(set.ok());
  CHECK(set->oldest() == 1);
  CHECK(set->files.size() == (*w)->file_id());
  std::vector<std::string> paths;
  for (auto& [id, p] : set->files) paths.push_back(p);
  int progress_lines = 0;
  VerifyReport rep = VerifyFiles(f.env, paths, [&](const std::string&) { progress_lines++; });
  CHECK(rep.ok());
  CHECK(progress_lines == static_cast<int>(paths.size()));
  auto sum = SummarizeFile(f.env, paths[0]);
  REQUIRE(sum.ok());
  CHECK(sum->ends_with_log_switch);
  CHECK(sum->next_file_id == 2);
  CHECK(sum->first_tid == 1);
  auto sum2 = SummarizeFile(f.env, paths[1]);
  REQUIRE(sum2.ok());
  CHECK(sum2->header.first_tid == sum->last_tid + 1);
  CHECK(sum2->header.start_chain == sum->last_chain);
}

TEST_CASE("MissingFileInSequenceIsReported") {
  Fixture f;
  auto w = Writer::CreateFile(f.Options(), Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  for (int i = 0; i < 3; i++) {
    (*w)->Add(RecordType::kCommit, 0, i, Bytes());
    REQUIRE((*w)->Flush().ok());
    REQUIRE((*w)->Rotate(i).ok());
  }
  std::remove(f.Path(2).c_str());
  VerifyReport rep = VerifyFiles(f.env, {f.Path(1), f.Path(3), f.Path(4)}, nullptr);
  REQUIRE(rep.errors.size() == 1);
  CHECK(rep.errors[0] == "tranlog3.dbf: tranlog 2 is missing before it");
}

TEST_CASE("FailedFlushLeavesTheFileAsItWas") {
  Fixture f;
  FaultInjectionEnv fenv(f.env);
  WriterOptions o{&fenv, {f.dir.path()}, "tranlog", 1 << 20};
  auto w = Writer::CreateFile(o, Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  (*w)->Add(RecordType::kCommit, 0, 1, AsBytes(std::string("a")));
  REQUIRE((*w)->Flush().ok());
  uint64_t size = test::FileSize(f.Path(1));
  uint64_t chain = (*w)->chain();
  fenv.SetNoSpace(true);
  (*w)->Add(RecordType::kCommit, 0, 2, AsBytes(std::string("b")));
  Status s = (*w)->Flush();
  CHECK(s.IsNoSpace());
  CHECK(test::FileSize(f.Path(1)) == size);
  CHECK((*w)->chain() == chain);
  CHECK((*w)->last_tid() == 1);  // the failed record gave its TID back
  fenv.SetNoSpace(false);
  (*w)->Add(RecordType::kCommit, 0, 3, AsBytes(std::string("c")));
  REQUIRE((*w)->Flush().ok());
  FileReader::Outcome last;
  auto recs = f.ReadAllRecords(f.Path(1), &last);
  CHECK(last == FileReader::Outcome::kEnd);
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].header.tid == 2);
  CHECK(recs[1].payload == "c");
}

}  // namespace tranship::tranlog

namespace tranship::tranlog {

TEST_CASE("AReaderFollowsAFileThatIsStillBeingWritten") {
  Fixture f;
  auto w = Writer::CreateFile(f.Options(), Lineage{1, 2}, 1, 1, 0);
  REQUIRE(w.ok());
  (*w)->Add(RecordType::kCommit, 0, 1, AsBytes(std::string("first")));
  REQUIRE((*w)->Flush().ok());
  (*w)->Preallocate();  // zeros follow the first record
  auto r = FileReader::Open(f.env, f.Path(1));
  REQUIRE(r.ok());
  RecordRef rec;
  REQUIRE((*r)->Next(&rec) == FileReader::Outcome::kRecord);
  // The reader has buffered the zeros after the first record; the writer now puts the
  // second record where they were.
  CHECK((*r)->Next(&rec) == FileReader::Outcome::kDamage);
  CHECK((*r)->damage().zero_tail);
  (*w)->Add(RecordType::kCommit, 0, 2, AsBytes(std::string("second")));
  REQUIRE((*w)->Flush().ok());
  REQUIRE((*r)->Next(&rec) == FileReader::Outcome::kRecord);
  CHECK(AsStringView(rec.payload) == "second");
  CHECK(rec.header.tid == 2);
}

}  // namespace tranship::tranlog
