#pragma once
// A growable byte buffer that, unlike std::string, does not zero-fill what it grows by:
// for buffers about to be overwritten by a read (a megabyte per shipped frame, where
// the fill showed as ~5% of the logsender's CPU).

#include <cstddef>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

namespace tranship {

class RawBuffer {
 public:
  RawBuffer() = default;
  RawBuffer(RawBuffer&&) noexcept = default;
  RawBuffer& operator=(RawBuffer&&) noexcept = default;

  char* data() { return p_.get(); }
  const char* data() const { return p_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {p_.get(), size_}; }

  // Keeps the first min(size(), n) bytes; bytes beyond them are unspecified.
  void Resize(size_t n) {
    if (n > capacity_) {
      size_t cap = std::max(n, capacity_ + capacity_ / 2);
      auto q = std::make_unique_for_overwrite<char[]>(cap);
      if (size_ > 0) std::memcpy(q.get(), p_.get(), size_);
      p_ = std::move(q);
      capacity_ = cap;
    }
    size_ = n;
  }

 private:
  std::unique_ptr<char[]> p_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace tranship
