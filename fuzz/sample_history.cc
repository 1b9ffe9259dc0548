#include "fuzz/sample_history.h"

#include <cstdlib>
#include <memory>

#include "tranlog/format.h"
#include "tranlog/writer.h"

namespace tranship::fuzz {
namespace {

void Check(const Status& s) {
  if (!s.ok()) std::abort();
}

std::unique_ptr<tranlog::Writer> Create(const tranlog::WriterOptions& o, Lineage lineage,
                                        uint64_t file_id, uint64_t next_tid, uint64_t chain) {
  auto w = tranlog::Writer::CreateFile(o, lineage, file_id, next_tid, chain);
  if (!w.ok()) std::abort();
  return std::move(*w);
}

void LineageStart(tranlog::Writer* w, const tranlog::LineageStartPayload& ls, uint64_t ts) {
  std::string payload = tranlog::EncodeLineageStart(ls);
  w->Add(tranlog::RecordType::kLineageStart, tranlog::kFlagBatchStart, ts, AsBytes(payload));
  Check(w->Flush());
}

// `n` commits in batches of three.
void Commits(tranlog::Writer* w, int n, uint64_t* ts) {
  for (int i = 0; i < n; i++) {
    std::string payload = "commit " + std::to_string(w->last_tid() + 1) + " " +
                          std::string(static_cast<size_t>(40 + (i * 53) % 300), 'k');
    w->Add(tranlog::RecordType::kCommit, i % 3 == 0 ? tranlog::kFlagBatchStart : 0, (*ts)++,
           AsBytes(payload));
    if (i % 3 == 2 || i == n - 1) Check(w->Flush());
  }
}

}  // namespace

std::string SampleHistory::Path(uint64_t file_id) const {
  return JoinPath(kDir, tranlog::FileName("tranlog", file_id));
}

void WriteSampleHistory(SampleHistory* h) {
  tranlog::WriterOptions o{&h->env, {SampleHistory::kDir}, "tranlog", 64ull << 20};
  h->parent = Lineage{0x7472616e, 0x73686970};
  h->child = Lineage{0x6368696c, 0x64};
  uint64_t ts = 1700000000000000;

  std::unique_ptr<tranlog::Writer> a = Create(o, h->parent, 1, 1, 0);
  LineageStart(a.get(), tranlog::LineageStartPayload{h->parent, {}, {}, 0}, ts++);
  Commits(a.get(), 7, &ts);
  Check(a->Rotate(ts++));
  Commits(a.get(), 4, &ts);
  h->junction = DurableEnd{h->parent, a->end(), a->last_tid(), a->chain(), a->last_timestamp_us()};
  Commits(a.get(), 3, &ts);  // the abandoned branch
  Check(a->Close());

  std::unique_ptr<tranlog::Writer> b =
      Create(o, h->child, 3, h->junction.tid + 1, h->junction.chain);
  LineageStart(b.get(),
               tranlog::LineageStartPayload{h->child, h->parent, h->junction.pos, h->junction.tid},
               ts++);
  Commits(b.get(), 5, &ts);
  b->Add(tranlog::RecordType::kCheckpoint, tranlog::kFlagBatchStart, ts++, Bytes{});
  Check(b->Flush());
  b->Preallocate();
  h->end = DurableEnd{h->child, b->end(), b->last_tid(), b->chain(), b->last_timestamp_us()};
}

}  // namespace tranship::fuzz
