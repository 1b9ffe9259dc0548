#include "fuzz/memory_env.h"

#include <algorithm>
#include <cstring>

namespace tranship::fuzz {
namespace {

class MemoryWritableFile final : public WritableFile {
 public:
  MemoryWritableFile(std::string path, std::shared_ptr<std::string> data)
      : path_(std::move(path)), data_(std::move(data)), size_(data_->size()) {}
  Status Append(Bytes data) override {
    data_->resize(size_);  // drops preallocated zeros, as the next write overwrites them
    data_->append(reinterpret_cast<const char*>(data.data()), data.size());
    size_ = data_->size();
    return Status::OK();
  }
  Status Sync() override { return Status::OK(); }
  Status Truncate(uint64_t size) override {
    data_->resize(size);
    size_ = size;
    return Status::OK();
  }
  Status Preallocate(uint64_t bytes) override {
    if (data_->size() < size_ + bytes) data_->resize(size_ + bytes, '\0');
    return Status::OK();
  }
  Status Close() override { return Truncate(size_); }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::shared_ptr<std::string> data_;
  uint64_t size_;
};

class MemoryRandomAccessFile final : public RandomAccessFile {
 public:
  explicit MemoryRandomAccessFile(std::shared_ptr<std::string> data) : data_(std::move(data)) {}
  Result<size_t> Read(uint64_t offset, size_t n, uint8_t* dst) const override {
    if (offset >= data_->size()) return size_t{0};
    size_t got = std::min<size_t>(n, data_->size() - static_cast<size_t>(offset));
    std::memcpy(dst, data_->data() + offset, got);
    return got;
  }
  Result<uint64_t> Size() const override { return uint64_t{data_->size()}; }

 private:
  std::shared_ptr<std::string> data_;
};

class MemoryLock final : public FileLock {};

}  // namespace

void MemoryEnv::Put(const std::string& path, std::string data) {
  files_[path] = std::make_shared<std::string>(std::move(data));
}

std::string MemoryEnv::Get(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? std::string() : *it->second;
}

Result<std::unique_ptr<WritableFile>> MemoryEnv::NewWritableFile(const std::string& path,
                                                                 bool truncate) {
  auto& f = files_[path];
  if (f == nullptr) f = std::make_shared<std::string>();
  if (truncate) f->clear();
  return std::unique_ptr<WritableFile>(new MemoryWritableFile(path, f));
}

Result<std::unique_ptr<RandomAccessFile>> MemoryEnv::NewRandomAccessFile(
    const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path + ": no such file");
  return std::unique_ptr<RandomAccessFile>(new MemoryRandomAccessFile(it->second));
}

Result<uint64_t> MemoryEnv::GetFileSize(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path + ": no such file");
  return uint64_t{it->second->size()};
}

Result<std::vector<std::string>> MemoryEnv::GetChildren(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& [path, data] : files_) {
    if (DirName(path) == dir) names.push_back(BaseName(path));
  }
  return names;
}

Status MemoryEnv::RemoveFile(const std::string& path) {
  if (files_.erase(path) == 0) return Status::NotFound(path + ": no such file");
  return Status::OK();
}

Status MemoryEnv::RenameFile(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) return Status::NotFound(from + ": no such file");
  auto data = it->second;
  files_.erase(it);
  files_[to] = std::move(data);
  return Status::OK();
}

Result<std::unique_ptr<FileLock>> MemoryEnv::LockFile(const std::string&) {
  return std::unique_ptr<FileLock>(new MemoryLock);
}

}  // namespace tranship::fuzz
