#pragma once
// The file-system seam. Every byte tranship writes or reads from disk goes through an
// Env, so tests can inject ENOSPC or drop writes that were never synced (a power cut)
// without a real disk. Env::Default() is the POSIX implementation.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/status.h"

namespace tranship {

// Appends to one file. Not thread-safe; one owner at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end of the file. On error nothing is known to be
  // written: callers that must stay consistent Truncate() back to the old Size().
  virtual Status Append(Bytes data) = 0;
  // fdatasync: everything appended so far is durable when this returns ok.
  virtual Status Sync() = 0;
  // A hint, not a promise: starts writing to the disk what was appended so far, without
  // waiting, so that a Sync() after a large append finds most of it written already.
  // Sync() is still what makes anything durable.
  virtual void StartWriteback() {}
  // Sets the file size (and the append position) to `size`; drops preallocated space.
  virtual Status Truncate(uint64_t size) = 0;
  // Writes zeros after the append position so that the next `bytes` appended land on
  // blocks that are already allocated and written, then syncs them. fdatasync after an
  // append inside such space skips the journal commit a growing file needs (measured
  // here: about 160 µs instead of 250 µs). The append position does not move; readers
  // see the zeros after it until Truncate() or Close() cuts them.
  virtual Status Preallocate(uint64_t bytes) = 0;
  // Cuts any preallocated space, then closes.
  virtual Status Close() = 0;
  // Bytes in the file, including appended but unsynced ones.
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

// Positional reads; thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into dst; fewer only at end of file.
  virtual Result<size_t> Read(uint64_t offset, size_t n, uint8_t* dst) const = 0;
  virtual Result<uint64_t> Size() const = 0;
};

// An exclusive advisory lock (flock) held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  // Opens `path` for appending, creating it (mode 0600) if missing; with truncate the
  // file starts empty.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                bool truncate) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> GetFileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual Result<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // mkdir -p, mode 0700.
  virtual Status CreateDirs(const std::string& path) = 0;
  // fsync of the directory itself, so that creates, renames and removes are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Takes an exclusive lock on `path` (created if missing) without waiting; Busy if
  // another process holds it. The lock file records the holder's pid.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

// An Env that passes every call to another: test disks (a full one, one that stalls)
// derive from it and override only what they change.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override {
    return target_->NewWritableFile(path, truncate);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return target_->NewRandomAccessFile(path);
  }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  Result<uint64_t> GetFileSize(const std::string& path) override {
    return target_->GetFileSize(path);
  }
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    return target_->GetChildren(dir);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  Status CreateDirs(const std::string& path) override { return target_->CreateDirs(path); }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return target_->LockFile(path);
  }

 private:
  Env* target_;
};

// Reads a whole (small) file.
Result<std::string> ReadFileToString(Env* env, const std::string& path);
// Writes `path` so that a crash leaves either the old or the new contents: a temporary
// file is written and synced, renamed over `path`, and the directory synced.
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data);
// "dir/name" with exactly one slash between.
std::string JoinPath(std::string_view dir, std::string_view name);
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace tranship
