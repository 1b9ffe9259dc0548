#pragma once
// An Env wrapper for crash and disk-full tests. It forwards to a real Env and can:
//  - fail appends and syncs with ENOSPC (nothing is written), as a full disk does;
//  - simulate a power cut: DropUnsyncedData() cuts every file it opened for writing
//    back to the size it had at its last successful Sync(); PowerCut() does that at one
//    instant while other threads are writing, and fails every write that comes later.
// Operators never see it; tests and the chaos suite use it.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "base/env.h"

namespace tranship {

class FaultInjectionEnv final : public EnvWrapper {
 public:
  explicit FaultInjectionEnv(Env* base) : EnvWrapper(base), base_(base) {}

  // While set, Append and Sync on every file fail with kNoSpace and write nothing.
  void SetNoSpace(bool on) { no_space_.store(on); }
  // Allows `bytes` more appended bytes in total, then behaves as SetNoSpace(true).
  void SetSpaceLeft(int64_t bytes) { space_left_.store(bytes); }
  // Cuts every written file back to its last synced size.
  Status DropUnsyncedData();
  // The power goes now: waits for the file operations in flight to finish, then drops
  // everything not synced; from then on every write, sync, truncate, rename and remove
  // fails with an I/O error, as on a machine that has stopped. For a forked child that
  // then _exit()s, leaving the files as a power cut would.
  Status PowerCut();

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;

  // Used by the wrapped files: a shared hold on the power for the duration of one
  // operation, and whether the power is still on.
  std::shared_lock<std::shared_mutex> HoldPower() { return std::shared_lock(power_mu_); }
  bool PoweredOff() const { return powered_off_.load(); }
  bool ConsumeSpace(size_t n);
  void RecordSynced(const std::string& path, uint64_t size);

 private:
  Env* base_;
  std::atomic<bool> no_space_{false};
  std::atomic<int64_t> space_left_{INT64_MAX};
  std::shared_mutex power_mu_;  // held shared by each file operation, exclusively by PowerCut
  std::atomic<bool> powered_off_{false};
  std::mutex mu_;
  std::map<std::string, uint64_t> synced_size_;  // path -> size at last sync
};

}  // namespace tranship
