#pragma once
// The saved-state header: the first 96 bytes that an extent (engine/extent.h) and a
// full-backup file (restore/backup_format.h) share. Both save a whole state at one TID
// and where that TID sits in its tranlog history; each file adds its own fields after
// these (the extent a reserved word, a backup the stone's name and a CRC). Layouts in
// docs/tranlog-format.md ("Extent") and docs/backup-format.md.
//
// Each state entry that follows is encoded the same way in both files too.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "base/env.h"
#include "base/status.h"
#include "engine/extent.h"
#include "tranlog/types.h"

namespace tranship {

struct SavedStateHeader {
  Lineage lineage;
  uint64_t tid = 0;            // last TID applied to the saved state
  Position position;           // the record after `tid`: where replay continues
  uint64_t chain = 0;          // chain value of record `tid`
  uint64_t last_commit_us = 0; // timestamp of record `tid`
  uint64_t flags = 0;          // the file's own flags
  uint64_t keys = 0;           // number of entries
  uint64_t created_us = 0;     // when the file was written
};

// Bytes [0, kSavedStateHeaderSize): magic, version, header size, then the fields above.
inline constexpr size_t kSavedStateHeaderSize = 96;
static_assert(kSavedStateHeaderSize == 8 + 4 + 4 + 16 + 8 * 8);

// Appends the shared header: `magic` (8 bytes), `version`, `header_size` (the file's
// whole header), then the fields, each at the offset commented in EncodeSavedStateHeader.
void EncodeSavedStateHeader(std::string* dst, std::string_view magic, uint32_t version,
                            uint32_t header_size, const SavedStateHeader& h);
// The fields, from the first kSavedStateHeaderSize bytes at `p`; the caller checks
// magic, version and size first (it knows its file's rules and messages).
SavedStateHeader DecodeSavedStateHeader(const uint8_t* p);

// One entry: varint key length, key, varint value length, value, varint version.
inline void PutStateEntry(std::string* dst, std::string_view key, const StateEntry& e) {
  PutLengthPrefixed(dst, key);
  PutLengthPrefixed(dst, e.value);
  PutVarint64(dst, e.version);
}

// Writes the entries of `state` to `f` after what `buf` already holds (the header): they
// are encoded into `buf` one scan chunk at a time, and `buf` is appended whenever it
// holds `flush_bytes` and at the end, each time after `digest` has seen its bytes. Every
// append is written back at once and paced to `bytes_per_s` (base/pacer.h). `progress`
// (if set) hears the entries and bytes written so far after each append. On return `buf`
// is empty; the first error of the scan or of an append stops the write.
Status WriteStateEntries(StateView& state, WritableFile* f, std::string* buf,
                         size_t flush_bytes, uint64_t bytes_per_s,
                         const std::function<void(std::string_view bytes)>& digest,
                         const std::function<void(uint64_t entries, uint64_t bytes)>& progress =
                             nullptr);

}  // namespace tranship
