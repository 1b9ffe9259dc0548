// Fuzz target: the tranlog reader (tranlog/reader.h) on arbitrary bytes as a
// tranlog file, through a MemoryEnv: record by record with FileReader, summarized as
// `tranship tranlog info` does, and verified as `tranship tranlog verify` does, alone
// and as the successor of a valid file that ends with a log switch naming it.
//
// Input: the whole content of the file.
// Properties: records are contiguous from the header on, TIDs go up by one from the
// header's first TID, the reader never passes the end of the file, damage is reported
// inside the file, and the summary agrees with the record-by-record reading.

#include <cstdint>
#include <string>

#include "tranlog/format.h"
#include "tranlog/reader.h"
#include "fuzz/check.h"
#include "fuzz/sample_history.h"

namespace tranship::fuzz {
namespace {

struct Files {
  MemoryEnv env;
  std::string first;  // a valid tranlog1 ending with a log switch to tranlog2
};

Files& State() {
  static Files* f = [] {
    SampleHistory h;
    WriteSampleHistory(&h);
    auto* files = new Files;
    files->first = h.env.Get(h.Path(1));
    files->env.Put("/fuzz/tranlog1.dbf", files->first);
    return files;
  }();
  return *f;
}

void ReadRecords(Env* env, const std::string& path, uint64_t size, uint64_t* records) {
  auto r = tranlog::FileReader::Open(env, path);
  if (!r.ok()) return;
  tranlog::FileReader& reader = **r;
  const tranlog::FileHeader& h = reader.header();
  FUZZ_CHECK(reader.offset() == tranlog::kFileHeaderSize);
  uint64_t expect_tid = h.first_tid;
  uint64_t end = reader.offset();
  tranlog::RecordRef rec;
  tranlog::FileReader::Outcome out;
  while ((out = reader.Next(&rec)) == tranlog::FileReader::Outcome::kRecord) {
    FUZZ_CHECK(rec.pos.offset == end);
    FUZZ_CHECK(rec.header.tid == expect_tid);
    FUZZ_CHECK(rec.header.length >= tranlog::kRecordHeaderSize &&
               rec.header.length <= tranlog::kMaxRecordSize);
    FUZZ_CHECK(rec.payload.size() == rec.header.length - tranlog::kRecordHeaderSize);
    end += rec.header.length;
    FUZZ_CHECK(reader.offset() == end && end <= size);
    FUZZ_CHECK(reader.next_tid() == expect_tid + 1 && reader.chain() == rec.header.chain);
    expect_tid++;
    (*records)++;
  }
  if (out == tranlog::FileReader::Outcome::kDamage) {
    const tranlog::Damage& d = reader.damage();
    FUZZ_CHECK(d.offset >= end && d.offset <= size);
    FUZZ_CHECK(!d.reason.empty());
    // Asked again, the reader stays at the damage.
    FUZZ_CHECK(reader.Next(&rec) == tranlog::FileReader::Outcome::kDamage);
    FUZZ_CHECK(reader.offset() == end);
  }
}

}  // namespace
}  // namespace tranship::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tranship;
  using namespace tranship::fuzz;
  Files& files = State();
  std::string content(reinterpret_cast<const char*>(data), size);
  const std::string alone = "/alone/tranlog1.dbf";
  const std::string second = "/fuzz/tranlog2.dbf";
  files.env.Put(alone, content);
  files.env.Put(second, content);

  uint64_t records = 0;
  ReadRecords(&files.env, alone, size, &records);

  Result<tranlog::FileSummary> sum = tranlog::SummarizeFile(&files.env, alone);
  if (sum.ok()) {
    FUZZ_CHECK(sum->records == records && sum->bytes == size && sum->end_offset <= size);
    uint64_t by_type = 0;
    for (const auto& [type, n] : sum->records_by_type) by_type += n;
    FUZZ_CHECK(by_type == records);
    if (records > 0) FUZZ_CHECK(sum->last_tid - sum->first_tid + 1 == records);
    (void)tranlog::RecordTypeName(tranlog::RecordType::kCommit);
  }

  tranlog::VerifyReport alone_rep = tranlog::VerifyFiles(&files.env, {alone}, nullptr);
  FUZZ_CHECK(alone_rep.files <= 1);
  tranlog::VerifyReport pair = tranlog::VerifyFiles(
      &files.env, {"/fuzz/tranlog1.dbf", second}, [](const std::string& line) {
        FUZZ_CHECK(!line.empty());
      });
  FUZZ_CHECK(pair.files >= 1);  // the valid first file always counts
  return 0;
}
