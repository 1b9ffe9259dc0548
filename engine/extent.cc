#include "engine/extent.h"

#include <cstring>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/crc32c.h"
#include "engine/saved_state.h"

namespace tranship {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'N', 'S', 'H', 'E', 'X', 'T'};
constexpr char kTrailerMagic[8] = {'T', 'R', 'N', 'S', 'E', 'N', 'D', '.'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 104;
constexpr size_t kTrailerSize = 8 + 8 + 4 + 4;  // magic, keys, reserved, CRC
// Entries are buffered to this size before each write: few syscalls, modest memory.
constexpr size_t kWriteChunk = 4 << 20;

std::string EncodeHeader(const ExtentHeader& h) {
  std::string s;
  EncodeSavedStateHeader(&s, std::string_view(kMagic, 8), kVersion, kHeaderSize,
                         SavedStateHeader{h.lineage, h.tid, h.replay_from, h.chain,
                                          h.last_commit_us, h.flags, h.keys, h.created_us});
  PutFixed64(&s, 0);                   // 96: reserved
  return s;
}
static_assert(kHeaderSize == kSavedStateHeaderSize + 8);

}  // namespace

Status WriteExtent(Env* env, const std::string& dir, const ExtentHeader& header,
                   const StateMap& state) {
  MapView view(state);
  return WriteExtent(env, dir, header, view);
}

Status WriteExtent(Env* env, const std::string& dir, const ExtentHeader& header,
                   StateView& state, uint64_t bytes_per_s) {
  std::string path = JoinPath(dir, kExtentFileName);
  std::string tmp = path + ".tmp";
  auto f = env->NewWritableFile(tmp, /*truncate=*/true);
  if (!f.ok()) return f.status();
  ExtentHeader h = header;
  h.keys = state.keys();
  h.created_us = NowMicros();
  std::string buf = EncodeHeader(h);
  uint32_t crc = 0;
  Status s = WriteStateEntries(state, f->get(), &buf, kWriteChunk, bytes_per_s,
                               [&crc](std::string_view b) {
                                 crc = crc32c::Extend(crc, b.data(), b.size());
                               });
  if (s.ok()) {
    buf.append(kTrailerMagic, 8);
    PutFixed64(&buf, h.keys);
    PutFixed32(&buf, 0);
    crc = crc32c::Extend(crc, buf.data(), buf.size());
    PutFixed32(&buf, crc);  // CRC32C of every byte before it
    s = (*f)->Append(AsBytes(buf));
  }
  if (s.ok()) s = (*f)->Sync();
  Status c = (*f)->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (s.ok()) s = env->SyncDir(dir);
  if (!s.ok()) (void)env->RemoveFile(tmp);
  return s;
}

namespace {

// The fixed header fields (EncodeHeader); magic and version are checked by the caller.
void DecodeHeader(const uint8_t* p, ExtentHeader* h) {
  SavedStateHeader f = DecodeSavedStateHeader(p);
  *h = ExtentHeader{f.lineage, f.tid, f.position, f.chain, f.last_commit_us, f.flags, f.keys,
                    f.created_us};
}

}  // namespace

Status ReadExtentHeader(Env* env, const std::string& path, ExtentHeader* h) {
  auto f = env->NewRandomAccessFile(path);
  if (!f.ok()) return f.status();
  uint8_t p[kHeaderSize];
  auto n = (*f)->Read(0, kHeaderSize, p);
  if (!n.ok()) return n.status();
  if (*n < kHeaderSize) return Status::Corruption(path + ": file too short for an extent");
  if (std::memcmp(p, kMagic, 8) != 0) return Status::Corruption(path + ": not an extent file (bad magic)");
  if (DecodeFixed32(p + 8) != kVersion) return Status::Corruption(path + ": unsupported extent version");
  DecodeHeader(p, h);
  return Status::OK();
}

Status ReadExtent(Env* env, const std::string& path, ExtentHeader* h, StateMap* state) {
  auto data = ReadFileToString(env, path);
  if (!data.ok()) return data.status();
  const std::string& d = *data;
  auto corrupt = [&](std::string why) {
    return Status::Corruption(fmt::format("{}: {}", path, why));
  };
  if (d.size() < kHeaderSize + kTrailerSize) return corrupt("file too short for an extent");
  const uint8_t* p = reinterpret_cast<const uint8_t*>(d.data());
  if (std::memcmp(p, kMagic, 8) != 0) return corrupt("not an extent file (bad magic)");
  if (DecodeFixed32(p + 8) != kVersion) return corrupt("unsupported extent version");
  uint32_t stored = DecodeFixed32(p + d.size() - 4);
  if (crc32c::Value(p, d.size() - 4) != stored) return corrupt("checksum mismatch");
  DecodeHeader(p, h);
  const uint8_t* trailer = p + d.size() - kTrailerSize;
  if (std::memcmp(trailer, kTrailerMagic, 8) != 0) return corrupt("bad trailer");
  Decoder dec(p + kHeaderSize, d.size() - kHeaderSize - kTrailerSize);
  state->clear();
  for (uint64_t i = 0; i < h->keys; i++) {
    std::string_view k, v;
    uint64_t version;
    if (!dec.GetLengthPrefixed(&k) || !dec.GetLengthPrefixed(&v) || !dec.GetVarint64(&version)) {
      return corrupt(fmt::format("entry {} is malformed", i));
    }
    state->emplace_hint(state->end(), std::string(k), StateEntry{std::string(v), version});
  }
  if (!dec.done()) return corrupt("trailing bytes after the last entry");
  return Status::OK();
}

}  // namespace tranship
