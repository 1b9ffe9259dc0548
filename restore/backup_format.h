#pragma once
// The full-backup file: the whole state of a stone at one TID, where that TID sits in
// its tranlog history, and a SHA-256 over the file. Layout in docs/backup-format.md.
//
// Written as FILE.partial, fdatasynced, renamed to FILE, directory fsynced: a crash or a
// full disk leaves no file named FILE that is not a whole backup. The reader checks
// everything (header CRC, every entry, key order, counts, the SHA-256) before it hands
// back a state, so a damaged backup is never half restored.
// The header's first 96 bytes are the saved-state header it shares with the extent
// (engine/saved_state.h).

#include <cstdint>
#include <functional>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "engine/extent.h"
#include "engine/saved_state.h"
#include "tranlog/types.h"

namespace tranship {

inline constexpr char kBackupMagic[8] = {'T', 'R', 'N', 'S', 'H', 'B', 'A', 'K'};
inline constexpr char kBackupTrailerMagic[8] = {'T', 'R', 'N', 'S', 'B', 'E', 'N', 'D'};
inline constexpr uint32_t kBackupVersion = 1;
inline constexpr size_t kBackupFixedHeaderSize = 100;  // before the stone name
inline constexpr size_t kBackupMaxNameSize = 1024;
inline constexpr size_t kBackupTrailerSize = 8 + 8 + 32;  // magic, entry count, SHA-256
static_assert(kBackupFixedHeaderSize == 8 + 4 + 4 + 16 + 8 * 8 + 4);

inline constexpr uint64_t kBackupFlagCommitsSuspended = 1;

// The saved-state fields (position: the record after `tid`, where restore continues;
// flags: kBackupFlag*), then the stone the backup was taken from.
struct BackupHeader : SavedStateHeader {
  std::string stone_name;
};

// Reported while a backup is written or read. `keys_total` is known from the start;
// `bytes_total` is the file size when reading and 0 (unknown) when writing.
struct BackupProgress {
  uint64_t keys_done = 0;
  uint64_t keys_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
};
// Called from the thread doing the work, about every 4 MiB and once at the end.
using BackupProgressFn = std::function<void(const BackupProgress&)>;

// Writes `state` with `header` (its `keys` and `created_us` are filled in) to `path`.
// AlreadyExists if `path` exists. On any failure nothing is left behind (the partial
// file is removed) and the status is one line naming the file; NoSpace for a full disk.
Status WriteBackupFile(Env* env, const std::string& path, const BackupHeader& header,
                       const StateMap& state, const BackupProgressFn& progress = nullptr);
// The same from a view read a chunk at a time (a consistent scan of a live stone), at
// most `bytes_per_s` fast (0: as fast as the disk takes them; base/pacer.h).
Status WriteBackupFile(Env* env, const std::string& path, const BackupHeader& header,
                       StateView& state, const BackupProgressFn& progress = nullptr,
                       uint64_t bytes_per_s = 0);

// Reads `path` and verifies all of it. Failures are one line naming the file: NotFound,
// Corruption (truncated, changed, not a backup), NotSupported (another format version).
Status ReadBackupFile(Env* env, const std::string& path, BackupHeader* header, StateMap* state,
                      const BackupProgressFn& progress = nullptr);

// Reads only the header (checked by its CRC; the entries and the SHA-256 are not read).
Result<BackupHeader> ReadBackupHeader(Env* env, const std::string& path);

}  // namespace tranship
