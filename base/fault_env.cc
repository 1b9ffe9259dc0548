#include "base/fault_env.h"

#include <algorithm>

namespace tranship {
namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}

  Status Append(Bytes data) override {
    auto power = env_->HoldPower();
    if (env_->PoweredOff()) return PowerGone("write");
    // Bytes that land in preallocated space need no new room, as on a real disk.
    uint64_t end = base_->Size() + data.size();
    size_t needed = end > prealloc_end_ ? static_cast<size_t>(end - std::max(prealloc_end_, base_->Size())) : 0;
    if (!env_->ConsumeSpace(needed)) {
      return Status::NoSpace("write " + base_->path() + ": No space left on device");
    }
    return base_->Append(data);
  }
  Status Sync() override {
    auto power = env_->HoldPower();
    if (env_->PoweredOff()) return PowerGone("fdatasync");
    if (!env_->ConsumeSpace(0)) {
      return Status::NoSpace("fdatasync " + base_->path() + ": No space left on device");
    }
    Status s = base_->Sync();
    if (s.ok()) env_->RecordSynced(base_->path(), base_->Size());
    return s;
  }
  Status Truncate(uint64_t size) override {
    auto power = env_->HoldPower();
    if (env_->PoweredOff()) return PowerGone("truncate");
    prealloc_end_ = size;
    return base_->Truncate(size);
  }
  Status Preallocate(uint64_t bytes) override {
    auto power = env_->HoldPower();
    if (env_->PoweredOff()) return PowerGone("preallocate");
    uint64_t want = base_->Size() + bytes;
    size_t needed = want > prealloc_end_ ? static_cast<size_t>(want - std::max(prealloc_end_, base_->Size())) : 0;
    if (!env_->ConsumeSpace(needed)) {
      return Status::NoSpace("preallocate " + base_->path() + ": No space left on device");
    }
    Status s = base_->Preallocate(bytes);
    if (s.ok()) prealloc_end_ = std::max(prealloc_end_, want);
    return s;
  }
  void StartWriteback() override { base_->StartWriteback(); }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  Status PowerGone(const char* what) const {
    return Status::IOError(std::string(what) + " " + base_->path() + ": the power is off");
  }

  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
  uint64_t prealloc_end_ = 0;  // end of the space Preallocate() has reserved
};

}  // namespace

bool FaultInjectionEnv::ConsumeSpace(size_t n) {
  if (no_space_.load()) return false;
  int64_t left = space_left_.load();
  while (true) {
    if (left < static_cast<int64_t>(n)) {
      no_space_.store(true);
      return false;
    }
    if (space_left_.compare_exchange_weak(left, left - static_cast<int64_t>(n))) return true;
  }
}

void FaultInjectionEnv::RecordSynced(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  synced_size_[path] = size;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path, bool truncate) {
  auto power = HoldPower();
  if (PoweredOff()) return Status::IOError("open " + path + ": the power is off");
  auto f = base_->NewWritableFile(path, truncate);
  if (!f.ok()) return f.status();
  {
    std::lock_guard<std::mutex> l(mu_);
    // A file that existed before we opened it counts as synced up to its current size.
    if (truncate || !synced_size_.count(path)) synced_size_[path] = (*f)->Size();
  }
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(*f)));
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  auto power = HoldPower();
  if (PoweredOff()) return Status::IOError("remove " + path + ": the power is off");
  {
    std::lock_guard<std::mutex> l(mu_);
    synced_size_.erase(path);
  }
  return base_->RemoveFile(path);
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  auto power = HoldPower();
  if (PoweredOff()) return Status::IOError("rename " + from + ": the power is off");
  Status s = base_->RenameFile(from, to);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = synced_size_.find(from);
    if (it != synced_size_.end()) {
      synced_size_[to] = it->second;
      synced_size_.erase(it);
    }
  }
  return s;
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, size] : synced_size_) {
    if (!base_->FileExists(path)) continue;
    auto f = base_->NewWritableFile(path, false);
    if (!f.ok()) return f.status();
    if ((*f)->Size() > size) TRANSHIP_RETURN_IF_ERROR((*f)->Truncate(size));
  }
  return Status::OK();
}

Status FaultInjectionEnv::PowerCut() {
  std::unique_lock<std::shared_mutex> off(power_mu_);
  powered_off_.store(true);
  return DropUnsyncedData();
}

}  // namespace tranship
