#include "restore/backup_format.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/crc32c.h"
#include "engine/saved_state.h"
#include "tranlog/format.h"

namespace tranship {
namespace {

// Entries are buffered to this size before each write, and read in chunks of it: few
// system calls, bounded memory, and a progress report per chunk.
constexpr size_t kChunk = 4 << 20;
// A key or value longer than one tranlog record could never have been committed.
constexpr uint64_t kMaxFieldSize = tranlog::kMaxPayloadSize;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(const void* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  std::string Final() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    return std::string(reinterpret_cast<const char*>(md), n);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

std::string EncodeHeader(const BackupHeader& h) {
  std::string s;
  EncodeSavedStateHeader(&s, std::string_view(kBackupMagic, 8), kBackupVersion,
                         // header size, name and CRC included
                         static_cast<uint32_t>(kBackupFixedHeaderSize + h.stone_name.size() + 4),
                         h);
  PutFixed32(&s, static_cast<uint32_t>(h.stone_name.size()));  // 96: name length
  s += h.stone_name;                                // 100: the source stone's name
  PutFixed32(&s, crc32c::Value(s.data(), s.size()));  // CRC32C of the header before it
  return s;
}
static_assert(kBackupFixedHeaderSize == kSavedStateHeaderSize + 4);

Status Damaged(const std::string& path, std::string_view why) {
  return Status::Corruption(fmt::format(
      "The backup file {} is damaged: {}. To fix this use another copy of the backup or take "
      "a new one.", path, why));
}

// Decodes the header from the first bytes of the file; `avail` may be the whole file.
Status DecodeHeader(const std::string& path, const uint8_t* p, size_t avail, uint64_t file_size,
                    BackupHeader* h, size_t* header_size) {
  if (avail < 8 || std::memcmp(p, kBackupMagic, 8) != 0) {
    return Status::Corruption(fmt::format(
        "{} is not a tranship backup file (bad magic). To fix this give a file written by "
        "'tranship admin NAME full-backup FILE'.", path));
  }
  if (avail < 16) return Damaged(path, "the file is shorter than a backup header (truncated)");
  uint32_t version = DecodeFixed32(p + 8);
  if (version != kBackupVersion) {
    return Status::NotSupported(fmt::format(
        "{} is a backup of format version {}, this tranship reads version {}. To fix this "
        "restore it with the tranship version that wrote it.", path, version, kBackupVersion));
  }
  uint32_t size = DecodeFixed32(p + 12);
  if (size < kBackupFixedHeaderSize + 4 || size > kBackupFixedHeaderSize + kBackupMaxNameSize + 4) {
    return Damaged(path, fmt::format("impossible header size {}", size));
  }
  if (file_size < size + kBackupTrailerSize || avail < size) {
    return Damaged(path, fmt::format("the file is {} bytes, too short for a backup (truncated)",
                                     file_size));
  }
  if (crc32c::Value(p, size - 4) != DecodeFixed32(p + size - 4)) {
    return Damaged(path, "header checksum mismatch");
  }
  uint32_t name_len = DecodeFixed32(p + 96);
  if (kBackupFixedHeaderSize + name_len + 4 != size) {
    return Damaged(path, "the stone name does not fit the header");
  }
  static_cast<SavedStateHeader&>(*h) = DecodeSavedStateHeader(p);
  h->stone_name.assign(reinterpret_cast<const char*>(p + kBackupFixedHeaderSize), name_len);
  *header_size = size;
  return Status::OK();
}

Result<std::unique_ptr<RandomAccessFile>> OpenForRead(Env* env, const std::string& path,
                                                      uint64_t* size) {
  if (!env->FileExists(path)) {
    return Status::NotFound(fmt::format(
        "The backup file {} does not exist. To fix this give the path of a file written by "
        "'tranship admin NAME full-backup FILE'.", path));
  }
  auto f = env->NewRandomAccessFile(path);
  if (!f.ok()) {
    return Status::IOError(fmt::format("Cannot open the backup file {}: {}", path,
                                       f.status().message()));
  }
  auto s = (*f)->Size();
  if (!s.ok()) return Status::IOError(fmt::format("Cannot read {}: {}", path, s.status().message()));
  *size = *s;
  return f;
}

Status ReadAt(const RandomAccessFile& f, const std::string& path, uint64_t off, size_t n,
              std::string* dst) {
  size_t old = dst->size();
  dst->resize(old + n);
  auto r = f.Read(off, n, reinterpret_cast<uint8_t*>(dst->data() + old));
  if (!r.ok()) return Status::IOError(fmt::format("Cannot read {}: {}", path, r.status().message()));
  if (*r != n) return Damaged(path, "the file ended while it was being read");
  return Status::OK();
}

enum class Parse { kEntry, kNeedMore, kBad };

// One entry (varint key length, key, varint value length, value, varint version) at the
// start of `d`; kNeedMore if `d` ends inside it.
Parse ParseEntry(Decoder* d, std::string_view* key, std::string_view* value, uint64_t* version) {
  auto varint = [&](uint64_t* v) {
    const uint8_t* start = d->pos();
    size_t left = d->remaining();
    if (d->GetVarint64(v)) return Parse::kEntry;
    // GetVarint64 failed: ran out of bytes (need more) or a varint over 10 bytes.
    size_t i = 0;
    while (i < left && i < 10 && (start[i] & 0x80)) i++;
    return i == left && i < 10 ? Parse::kNeedMore : Parse::kBad;
  };
  uint64_t klen = 0, vlen = 0;
  Parse p;
  if ((p = varint(&klen)) != Parse::kEntry) return p;
  if (klen > kMaxFieldSize) return Parse::kBad;
  if (!d->GetBytes(klen, key)) return Parse::kNeedMore;
  if ((p = varint(&vlen)) != Parse::kEntry) return p;
  if (vlen > kMaxFieldSize) return Parse::kBad;
  if (!d->GetBytes(vlen, value)) return Parse::kNeedMore;
  return varint(version);
}

}  // namespace

Status WriteBackupFile(Env* env, const std::string& path, const BackupHeader& header,
                       const StateMap& state, const BackupProgressFn& progress) {
  MapView view(state);
  return WriteBackupFile(env, path, header, view, progress);
}

Status WriteBackupFile(Env* env, const std::string& path, const BackupHeader& header,
                       StateView& state, const BackupProgressFn& progress,
                       uint64_t bytes_per_s) {
  if (header.stone_name.size() > kBackupMaxNameSize) {
    return Status::InvalidArgument("stone name too long for a backup header");
  }
  if (env->FileExists(path)) {
    return Status::AlreadyExists(fmt::format(
        "{} already exists. To fix this choose another file name or remove the old file.", path));
  }
  const std::string tmp = path + ".partial";
  auto f = env->NewWritableFile(tmp, /*truncate=*/true);
  if (!f.ok()) {
    return Status::IOError(fmt::format("Cannot write the backup {}: {}. To fix this choose a "
                                       "directory the stone can write to.",
                                       path, f.status().message()));
  }
  BackupHeader h = header;
  h.keys = state.keys();
  h.created_us = NowMicros();
  Sha256 sha;
  BackupProgress pr{0, h.keys, 0, 0};
  std::string buf = EncodeHeader(h);
  Status s = WriteStateEntries(
      state, f->get(), &buf, kChunk, bytes_per_s, [&sha](std::string_view b) { sha.Update(b); },
      [&](uint64_t entries, uint64_t bytes) {
        pr.keys_done = entries;
        pr.bytes_done = bytes;
        if (progress) progress(pr);
      });
  if (s.ok()) {
    buf.append(kBackupTrailerMagic, 8);
    PutFixed64(&buf, h.keys);
    sha.Update(buf);
    buf += sha.Final();  // SHA-256 of every byte of the file before it
    s = (*f)->Append(AsBytes(buf));
    pr.bytes_done += buf.size();
    buf.clear();
  }
  if (s.ok()) s = (*f)->Sync();
  Status c = (*f)->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (s.ok()) s = env->SyncDir(DirName(path));
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);
    (void)env->RemoveFile(path);  // renamed but the rename may not be durable
    if (s.IsNoSpace()) {
      return Status::NoSpace(fmt::format(
          "The backup {} failed after {} bytes: no space left on the device; nothing was left "
          "behind. To fix this free space in {} or choose another place.",
          path, pr.bytes_done, DirName(path)));
    }
    return Status::IOError(fmt::format("The backup {} failed: {}; nothing was left behind.",
                                       path, s.message()));
  }
  if (progress) progress(pr);
  return Status::OK();
}

Result<BackupHeader> ReadBackupHeader(Env* env, const std::string& path) {
  uint64_t size = 0;
  auto f = OpenForRead(env, path, &size);
  if (!f.ok()) return f.status();
  std::string head;
  size_t n = static_cast<size_t>(std::min<uint64_t>(size, kBackupFixedHeaderSize +
                                                              kBackupMaxNameSize + 4));
  TRANSHIP_RETURN_IF_ERROR(ReadAt(**f, path, 0, n, &head));
  BackupHeader h;
  size_t header_size = 0;
  TRANSHIP_RETURN_IF_ERROR(DecodeHeader(path, reinterpret_cast<const uint8_t*>(head.data()),
                                        head.size(), size, &h, &header_size));
  return h;
}

Status ReadBackupFile(Env* env, const std::string& path, BackupHeader* h, StateMap* state,
                      const BackupProgressFn& progress) {
  uint64_t size = 0;
  auto f = OpenForRead(env, path, &size);
  if (!f.ok()) return f.status();
  const RandomAccessFile& file = **f;
  std::string buf;
  size_t n = static_cast<size_t>(std::min<uint64_t>(size, kBackupFixedHeaderSize +
                                                              kBackupMaxNameSize + 4));
  TRANSHIP_RETURN_IF_ERROR(ReadAt(file, path, 0, n, &buf));
  size_t header_size = 0;
  TRANSHIP_RETURN_IF_ERROR(DecodeHeader(path, reinterpret_cast<const uint8_t*>(buf.data()),
                                        buf.size(), size, h, &header_size));
  Sha256 sha;
  sha.Update(buf.data(), header_size);
  buf.erase(0, header_size);

  // The entries lie in [header_size, size - trailer); `buf` holds read but unparsed bytes.
  const uint64_t entries_end = size - kBackupTrailerSize;
  uint64_t off = header_size + buf.size();
  if (off > entries_end) {  // read into the trailer: give those bytes back
    buf.resize(buf.size() - (off - entries_end));
    off = entries_end;
  }
  sha.Update(buf);
  state->clear();
  BackupProgress pr{0, h->keys, off, size};
  std::string last_key;
  for (;;) {
    Decoder d(buf.data(), buf.size());
    for (;;) {
      const uint8_t* start = d.pos();
      std::string_view key, value;
      uint64_t version = 0;
      if (d.done()) break;
      Parse p = ParseEntry(&d, &key, &value, &version);
      if (p == Parse::kBad || (p == Parse::kNeedMore && off == entries_end)) {
        return Damaged(path, fmt::format("entry {} is malformed (truncated or changed)",
                                         pr.keys_done));
      }
      if (p == Parse::kNeedMore) {
        d = Decoder(start, static_cast<size_t>(buf.data() + buf.size() -
                                               reinterpret_cast<const char*>(start)));
        break;
      }
      if (pr.keys_done == h->keys) {
        return Damaged(path, fmt::format("more entries than the {} the header counts", h->keys));
      }
      if (pr.keys_done > 0 && key <= std::string_view(last_key)) {
        return Damaged(path, fmt::format("entry {} is out of key order", pr.keys_done));
      }
      last_key.assign(key);
      state->emplace_hint(state->end(), std::string(key), StateEntry{std::string(value), version});
      pr.keys_done++;
    }
    buf.erase(0, buf.size() - d.remaining());
    if (progress) progress(pr);
    if (off == entries_end) break;
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, entries_end - off));
    size_t old = buf.size();
    TRANSHIP_RETURN_IF_ERROR(ReadAt(file, path, off, want, &buf));
    sha.Update(buf.data() + old, want);
    off += want;
    pr.bytes_done = off;
  }
  if (pr.keys_done != h->keys) {
    return Damaged(path, fmt::format("{} entries, but the header counts {}", pr.keys_done,
                                     h->keys));
  }
  std::string trailer;
  TRANSHIP_RETURN_IF_ERROR(ReadAt(file, path, entries_end, kBackupTrailerSize, &trailer));
  if (std::memcmp(trailer.data(), kBackupTrailerMagic, 8) != 0) {
    return Damaged(path, "bad trailer (truncated or changed)");
  }
  uint64_t count = DecodeFixed64(reinterpret_cast<const uint8_t*>(trailer.data() + 8));
  if (count != h->keys) {
    return Damaged(path, fmt::format("the trailer counts {} entries, the header {}", count,
                                     h->keys));
  }
  sha.Update(trailer.data(), 16);
  if (sha.Final() != std::string_view(trailer).substr(16)) {
    return Damaged(path, "SHA-256 mismatch (the file was changed after it was written)");
  }
  pr.bytes_done = size;
  if (progress) progress(pr);
  return Status::OK();
}

}  // namespace tranship
