#pragma once
// An Env that keeps its files in memory, for the fuzz targets: a tranlog history is
// written by the real writer and read back by the real reader without touching a disk,
// so one execution costs microseconds and a crash leaves nothing behind. Directories
// are implied by the paths of the files in them. Not thread-safe.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"

namespace tranship::fuzz {

class MemoryEnv final : public Env {
 public:
  // Replaces (or creates) `path` with `data`.
  void Put(const std::string& path, std::string data);
  // The content of `path`, empty if it does not exist.
  std::string Get(const std::string& path) const;
  void Clear() { files_.clear(); }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override;
  bool FileExists(const std::string& path) override { return files_.count(path) > 0; }
  Result<uint64_t> GetFileSize(const std::string& path) override;
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status CreateDirs(const std::string&) override { return Status::OK(); }
  Status SyncDir(const std::string&) override { return Status::OK(); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  // Shared with open files, which see later appends as a real file would.
  std::map<std::string, std::shared_ptr<std::string>> files_;
};

}  // namespace tranship::fuzz
