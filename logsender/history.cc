#include "logsender/history.h"

#include <fmt/format.h>

namespace tranship::logsender {

History::History(Env* env, std::vector<std::string> dirs, std::string prefix)
    : env_(env), dirs_(std::move(dirs)), prefix_(std::move(prefix)) {}

Status History::Refresh() {
  Result<tranlog::TranlogSet> set = tranlog::ListTranlogs(env_, dirs_, prefix_);
  if (!set.ok()) return set.status();
  set_ = std::move(*set);
  // Forget what belongs to files that are gone.
  std::erase_if(headers_, [&](const auto& kv) { return !set_.files.count(kv.first); });
  std::erase_if(closed_sizes_, [&](const auto& kv) { return !set_.files.count(kv.first); });
  return Status::OK();
}

std::optional<std::string> History::PathOf(uint64_t file_id) {
  auto it = set_.files.find(file_id);
  if (it == set_.files.end()) {
    if (!Refresh().ok()) return std::nullopt;
    it = set_.files.find(file_id);
    if (it == set_.files.end()) return std::nullopt;
  }
  return it->second;
}

std::string History::FileName(uint64_t file_id) const {
  return tranlog::FileName(prefix_, file_id);
}

Result<tranlog::FileHeader> History::Header(uint64_t file_id) {
  auto cached = headers_.find(file_id);
  if (cached != headers_.end()) return cached->second;
  std::optional<std::string> path = PathOf(file_id);
  if (!path)
    return Status::NotFound(
        fmt::format("{} is not in {}", FileName(file_id), fmt::join(dirs_, ", ")));
  Result<std::unique_ptr<RandomAccessFile>> f = env_->NewRandomAccessFile(*path);
  if (!f.ok()) return f.status();
  uint8_t buf[tranlog::kFileHeaderSize];
  Result<size_t> n = (*f)->Read(0, sizeof(buf), buf);
  if (!n.ok()) return n.status();
  if (*n < sizeof(buf)) {
    return Status::Corruption(fmt::format("{}: shorter than a tranlog header", *path));
  }
  tranlog::FileHeader h;
  Status s = tranlog::DecodeFileHeader(Bytes(buf, sizeof(buf)), &h);
  if (!s.ok()) return Status::Corruption(fmt::format("{} offset 0: {}", *path, s.message()));
  headers_[file_id] = h;
  return h;
}

uint64_t History::FileSize(uint64_t file_id) {
  auto cached = closed_sizes_.find(file_id);
  if (cached != closed_sizes_.end()) return cached->second;
  std::optional<std::string> path = PathOf(file_id);
  if (!path) return 0;
  Result<uint64_t> size = env_->GetFileSize(*path);
  if (!size.ok()) return 0;
  if (file_id < set_.newest()) closed_sizes_[file_id] = *size;
  return *size;
}

uint64_t History::Distance(const Position& from, const Position& to) {
  if (to <= from) return 0;
  if (from.file_id == to.file_id) return to.offset - from.offset;
  uint64_t first = FileSize(from.file_id);
  uint64_t total = first > from.offset ? first - from.offset : 0;
  for (uint64_t f = from.file_id + 1; f < to.file_id; f++) total += FileSize(f);
  return total + to.offset;
}

void History::Remember(const Boundary& b) {
  auto it = known_.find(b.pos);
  if (it != known_.end()) {
    known_lru_.erase(it->second);
    known_.erase(it);
  }
  known_lru_.push_back(b);
  known_[b.pos] = std::prev(known_lru_.end());
  if (known_lru_.size() > kMaxKnown) {
    known_.erase(known_lru_.front().pos);
    known_lru_.pop_front();
  }
}

void History::ForgetBoundaries() {
  known_.clear();
  known_lru_.clear();
  headers_.clear();
  closed_sizes_.clear();
}

std::optional<Boundary> History::Known(const Position& pos) const {
  auto it = known_.find(pos);
  if (it == known_.end()) return std::nullopt;
  return *it->second;
}

Result<Boundary> History::FindBoundary(const Position& pos, const DurableEnd& end) {
  if (std::optional<Boundary> b = Known(pos)) return *b;
  std::optional<std::string> path = PathOf(pos.file_id);
  if (!path)
    return Status::NotFound(
        fmt::format("{} is not in {}", FileName(pos.file_id), fmt::join(dirs_, ", ")));
  if (pos.offset == 0) {
    Result<tranlog::FileHeader> h = Header(pos.file_id);
    if (!h.ok()) return h.status();
    return Boundary{pos, h->first_tid, h->start_chain, 0};
  }
  Result<std::unique_ptr<tranlog::FileReader>> r = tranlog::FileReader::Open(env_, *path);
  if (!r.ok()) return r.status();
  tranlog::FileReader& reader = **r;
  if (pos.file_id == end.pos.file_id) reader.SetLimit(end.pos.offset);
  tranlog::RecordRef rec;
  uint64_t last_tid = reader.header().first_tid - 1;
  while (true) {
    uint64_t before = reader.offset();
    tranlog::FileReader::Outcome out = reader.Next(&rec);
    if (out == tranlog::FileReader::Outcome::kDamage) {
      return Status::Corruption(
          fmt::format("{} offset {}: {}", *path, reader.damage().offset, reader.damage().reason));
    }
    if (out == tranlog::FileReader::Outcome::kEnd) {
      return Status::InvalidArgument(fmt::format("{} ends at offset {} (TID {}) on this primary",
                                                 FileName(pos.file_id), before, last_tid));
    }
    last_tid = rec.header.tid;
    if (reader.offset() < pos.offset) continue;
    if (reader.offset() > pos.offset) {
      return Status::InvalidArgument(fmt::format(
          "offset {} of {} is inside the record of TID {} (offset {}, {} bytes) on this primary",
          pos.offset, FileName(pos.file_id), rec.header.tid, before, rec.header.length));
    }
    Boundary b{pos, rec.header.tid + 1, rec.header.chain, rec.header.timestamp_us};
    if (rec.header.type == tranlog::RecordType::kLogSwitch) {
      tranlog::LogSwitchPayload ls;
      if (tranlog::DecodeLogSwitch(rec.payload, &ls).ok()) b.pos = Position{ls.next_file_id, 0};
    }
    Remember(b);
    return b;
  }
}

Result<uint64_t> History::FileHolding(uint64_t tid) {
  TRANSHIP_RETURN_IF_ERROR(Refresh());
  for (auto it = set_.files.rbegin(); it != set_.files.rend(); ++it) {
    Result<tranlog::FileHeader> h = Header(it->first);
    if (!h.ok()) return h.status();
    if (h->first_tid <= tid) return it->first;
  }
  return Status::NotFound(
      fmt::format("TID {} is older than the oldest tranlog on the primary", tid));
}

Result<Boundary> History::BoundaryAfterTid(uint64_t file_id, uint64_t tid) {
  Result<tranlog::FileHeader> h = Header(file_id);
  if (!h.ok()) return h.status();
  if (h->first_tid == tid + 1) return Boundary{{file_id, 0}, tid + 1, h->start_chain, 0};
  std::optional<std::string> path = PathOf(file_id);
  if (!path) return Status::NotFound(FileName(file_id) + " is gone");
  Result<std::unique_ptr<tranlog::FileReader>> r = tranlog::FileReader::Open(env_, *path);
  if (!r.ok()) return r.status();
  tranlog::RecordRef rec;
  while ((*r)->Next(&rec) == tranlog::FileReader::Outcome::kRecord) {
    if (rec.header.tid == tid) {
      return Boundary{
          {file_id, (*r)->offset()}, tid + 1, rec.header.chain, rec.header.timestamp_us};
    }
  }
  return Status::NotFound(fmt::format("{} holds no record of TID {}", FileName(file_id), tid));
}

}  // namespace tranship::logsender
