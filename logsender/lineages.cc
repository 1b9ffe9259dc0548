#include "logsender/lineages.h"

#include <fmt/format.h>

#include "tranlog/format.h"
#include "tranlog/reader.h"

namespace tranship::logsender {
namespace {

// Bounds the walk: a history with more commit-restores than this is traced only this far
// back (older positions are then "older than the primary knows", never accepted).
constexpr int kMaxDepth = 256;

// The lineage of file `id`'s header, if the file is present and readable.
std::optional<Lineage> HeaderLineage(History& history, uint64_t id) {
  if (id == 0 || !history.PathOf(id)) return std::nullopt;
  Result<tranlog::FileHeader> h = history.Header(id);
  if (!h.ok()) return std::nullopt;
  return h->lineage;
}

// The file's first record, if it is a lineage-start record.
Result<std::optional<tranlog::LineageStartPayload>> FirstLineageStart(History& history,
                                                                      Env* env, uint64_t id) {
  std::optional<std::string> path = history.PathOf(id);
  if (!path) return std::optional<tranlog::LineageStartPayload>();
  Result<std::unique_ptr<tranlog::FileReader>> r = tranlog::FileReader::Open(env, *path);
  if (!r.ok()) return r.status();
  tranlog::RecordRef rec;
  if ((*r)->Next(&rec) != tranlog::FileReader::Outcome::kRecord ||
      rec.header.type != tranlog::RecordType::kLineageStart) {
    return std::optional<tranlog::LineageStartPayload>();
  }
  tranlog::LineageStartPayload ls;
  Status s = tranlog::DecodeLineageStart(rec.payload, &ls);
  if (!s.ok()) {
    return Status::Corruption(fmt::format("{}: its lineage-start record: {}", *path, s.message()));
  }
  return std::optional<tranlog::LineageStartPayload>(ls);
}

}  // namespace

Result<CurrentHistory> CurrentHistory::Trace(History& history, const DurableEnd& end) {
  TRANSHIP_RETURN_IF_ERROR(history.Refresh());
  CurrentHistory c;
  Lineage lineage = end.lineage;
  Position seg_end = end.pos;
  uint64_t seg_end_tid = end.tid;
  uint64_t seg_end_chain = end.chain;
  // The newest file that may hold this segment's end.
  uint64_t top = std::min(end.pos.file_id, history.newest());
  for (int depth = 0; depth < kMaxDepth; depth++) {
    Segment s;
    s.lineage = lineage;
    s.end = seg_end;
    s.end_tid = seg_end_tid;
    s.end_chain = seg_end_chain;
    // A parent end spelled as the start of a file (right after a log switch) lies in the
    // file before, which ends with that log switch.
    if (HeaderLineage(history, top) != lineage && seg_end.offset <= tranlog::kFileHeaderSize &&
        top > 0) {
      top--;
    }
    if (HeaderLineage(history, top) != lineage) {
      c.segments_.push_back(s);  // this primary has no file of this part of the history
      break;
    }
    uint64_t first = top;
    while (first > 1 && HeaderLineage(history, first - 1) == lineage) first--;
    Result<tranlog::FileHeader> h = history.Header(first);
    if (!h.ok()) return h.status();
    s.first_file = first;
    s.last_file = top;
    s.first_tid = h->first_tid;
    s.start_chain = h->start_chain;
    Result<std::optional<tranlog::LineageStartPayload>> ls =
        FirstLineageStart(history, history.env(), first);
    if (!ls.ok()) return ls.status();
    if (*ls && (*ls)->lineage == lineage) {
      s.starts_here = true;
      s.parent = (*ls)->parent;
      s.parent_end = (*ls)->parent_end;
      s.parent_tid = (*ls)->parent_tid;
    }
    c.segments_.push_back(s);
    if (!s.starts_here || s.parent.IsZero()) break;
    if (s.parent_tid + 1 != s.first_tid) {
      return Status::Corruption(fmt::format(
          "{} starts at TID {}, but its lineage-start record continues TID {}",
          history.FileName(first), s.first_tid, s.parent_tid));
    }
    lineage = s.parent;
    seg_end = s.parent_end;
    seg_end_tid = s.parent_tid;
    seg_end_chain = s.start_chain;
    // A parent's files are numbered below its child's first file.
    top = std::min(s.parent_end.file_id, first - 1);
  }
  return c;
}

int CurrentHistory::SegmentOf(uint64_t tid) const {
  for (size_t i = 0; i < segments_.size(); i++) {
    const Segment& s = segments_[i];
    if (s.first_file == 0) {
      if (tid == s.end_tid) return static_cast<int>(i);
      continue;
    }
    uint64_t lo = s.first_tid - 1;
    if (tid > lo && tid <= s.end_tid) return static_cast<int>(i);
    // Just before the oldest file traced: that file's header tells whether it follows.
    if (tid == lo && i + 1 == segments_.size()) return static_cast<int>(i);
  }
  return -1;
}

int CurrentHistory::SegmentAfter(uint64_t tid) const {
  if (tid == segments_.front().end_tid) return 0;
  int i = SegmentOf(tid + 1);
  if (i >= 0 && segments_[static_cast<size_t>(i)].first_file == 0) return -1;
  return i;
}

Junction CurrentHistory::JunctionOutOf(size_t i) const {
  const Segment& parent = segments_[i];
  const Segment& child = segments_[i - 1];
  Junction j;
  j.parent = parent.lineage;
  j.child = child.lineage;
  j.parent_end = child.parent_end;
  j.tid = child.parent_tid;
  j.chain = child.start_chain;
  j.next = Boundary{{child.first_file, 0}, child.first_tid, child.start_chain, 0};
  return j;
}

std::optional<Junction> CurrentHistory::JunctionInFile(uint64_t file_id, uint64_t offset) const {
  for (size_t i = 1; i < segments_.size(); i++) {
    Junction j = JunctionOutOf(i);
    if (j.parent_end.file_id == file_id && j.parent_end.offset > offset) return j;
  }
  return std::nullopt;
}

std::optional<Junction> CurrentHistory::JunctionAt(const Boundary& b) const {
  for (size_t i = 1; i < segments_.size(); i++) {
    Junction j = JunctionOutOf(i);
    if (b.next_tid == j.tid + 1 && b.chain == j.chain && b.pos != j.next.pos) return j;
  }
  return std::nullopt;
}

std::string CurrentHistory::Describe() const {
  std::string out;
  for (size_t i = 0; i < segments_.size(); i++) {
    const Segment& s = segments_[i];
    if (i == 0) {
      out = s.starts_here
                ? fmt::format("lineage {} from TID {} (tranlog {} offset 0)", s.lineage.ToHex(),
                              s.first_tid, s.first_file)
                : fmt::format("lineage {}", s.lineage.ToHex());
    } else {
      out += fmt::format(", after lineage {} up to TID {} ({})", s.lineage.ToHex(), s.end_tid,
                         s.end.ToString());
    }
  }
  return out;
}

}  // namespace tranship::logsender
