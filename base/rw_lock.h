#pragma once
// RwLock: a reader/writer lock where a waiting writer goes before readers that come
// after it. glibc's default (and so std::shared_mutex) lets new readers in while a
// writer waits; a reader that takes the lock again and again, as a consistent scan does
// chunk after chunk (engine/snapshot_scan.h), could then keep the log writer out for as
// long as the scan lasts. Works with std::unique_lock and std::shared_lock.

#include <pthread.h>

namespace tranship {

class RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rw_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwLock() { pthread_rwlock_destroy(&rw_); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock() { pthread_rwlock_wrlock(&rw_); }
  void unlock() { pthread_rwlock_unlock(&rw_); }
  void lock_shared() { pthread_rwlock_rdlock(&rw_); }
  void unlock_shared() { pthread_rwlock_unlock(&rw_); }

 private:
  pthread_rwlock_t rw_;
};

}  // namespace tranship
