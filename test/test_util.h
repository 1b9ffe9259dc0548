#pragma once
// Helpers shared by the test binaries: temporary directories, file surgery for
// corruption scenarios, and polling with a deadline (tests never sleep to synchronise).

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace tranship::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/tranship-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Memory bounds that tests assert hold for normal builds. Under a sanitizer they are
// scaled by this: ASan keeps freed blocks in its quarantine (256 MiB by default) and its
// shadow memory counts in RSS, so the same program is several times larger there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr long kRssBoundScale = 8;
#else
inline constexpr long kRssBoundScale = 1;
#endif

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline uint64_t FileSize(const std::string& path) {
  return std::filesystem::file_size(path);
}

// Adds `delta` to the byte at `offset` (leveldb's IncrementByte).
inline void IncrementByte(const std::string& path, uint64_t offset, int delta = 1) {
  std::string d = ReadAll(path);
  d[offset] = static_cast<char>(d[offset] + delta);
  WriteAll(path, d);
}

// Cuts `bytes` off the end of the file (leveldb's ShrinkSize).
inline void ShrinkSize(const std::string& path, uint64_t bytes) {
  std::filesystem::resize_file(path, FileSize(path) - bytes);
}

// Polls `cond` until it holds or `timeout` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace tranship::test
