#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "base/env.h"

namespace tranship {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size), physical_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(Bytes data) override {
    const uint8_t* p = data.data();
    size_t left = data.size();
    uint64_t off = size_;
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        // A partial append may have reached the file; cut it so the file ends where
        // the caller thinks it does.
        (void)::ftruncate(fd_, static_cast<off_t>(size_));
        physical_ = size_;
        return Status::FromErrno(err, "write " + path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
      off += static_cast<uint64_t>(n);
    }
    size_ = off;
    if (physical_ < size_) physical_ = size_;
    return Status::OK();
  }
  Status Preallocate(uint64_t bytes) override {
    static const std::string kZeros(256 << 10, '\0');
    uint64_t want = size_ + bytes;
    while (physical_ < want) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), want - physical_));
      ssize_t w = ::pwrite(fd_, kZeros.data(), n, static_cast<off_t>(physical_));
      if (w < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        (void)::ftruncate(fd_, static_cast<off_t>(size_));
        physical_ = size_;
        return Status::FromErrno(err, "preallocate " + path_);
      }
      physical_ += static_cast<uint64_t>(w);
    }
    return Sync();
  }
  void StartWriteback() override {
    if (size_ > written_back_) {
      (void)::sync_file_range(fd_, static_cast<off_t>(written_back_),
                              static_cast<off_t>(size_ - written_back_),
                              SYNC_FILE_RANGE_WRITE);
      written_back_ = size_;
    }
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
    return Status::OK();
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::FromErrno(errno, "truncate " + path_);
    }
    size_ = physical_ = size;
    written_back_ = std::min(written_back_, size);
    return Status::OK();
  }
  Status Close() override {
    if (fd_ >= 0 && physical_ > size_) {
      Status s = Truncate(size_);
      if (s.ok()) s = Sync();
      if (!s.ok()) return s;
    }
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      return Status::FromErrno(errno, "close " + path_);
    }
    fd_ = -1;
    return Status::OK();
  }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;      // append position
  uint64_t physical_;  // file size including preallocated zeros
  uint64_t written_back_ = size_;  // StartWriteback() asked for the bytes before this
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Result<size_t> Read(uint64_t offset, size_t n, uint8_t* dst) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "read " + path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }
  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing releases the flock

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "stat " + path);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
  }
  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Result<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
    return static_cast<uint64_t>(st.st_size);
  }
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "opendir " + dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "remove " + path);
    return Status::OK();
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "rename " + from + " to " + to);
    }
    return Status::OK();
  }
  Status CreateDirs(const std::string& path) override {
    if (path.empty()) return Status::OK();
    std::string cur;
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      cur = path.substr(0, j);
      if (!cur.empty() && ::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
        return Status::FromErrno(errno, "mkdir " + cur);
      }
      i = j + 1;
    }
    return Status::OK();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open " + dir);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno(err, "fsync " + dir);
    return Status::OK();
  }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char buf[32] = {0};
      ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
      ::close(fd);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      if (err == EWOULDBLOCK) {
        return Status::Busy(path + " is locked by another process (pid " + holder + ")");
      }
      return Status::FromErrno(err, "lock " + path);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "write " + path);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

Result<std::string> ReadFileToString(Env* env, const std::string& path) {
  auto f = env->NewRandomAccessFile(path);
  if (!f.ok()) return f.status();
  auto size = (*f)->Size();
  if (!size.ok()) return size.status();
  std::string out(*size, '\0');
  auto n = (*f)->Read(0, out.size(), reinterpret_cast<uint8_t*>(out.data()));
  if (!n.ok()) return n.status();
  out.resize(*n);
  return out;
}

Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  auto f = env->NewWritableFile(tmp, /*truncate=*/true);
  if (!f.ok()) return f.status();
  Status s = (*f)->Append(AsBytes(data));
  if (s.ok()) s = (*f)->Sync();
  Status c = (*f)->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (s.ok()) s = env->SyncDir(DirName(path));
  if (!s.ok()) (void)env->RemoveFile(tmp);
  return s;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string p(dir);
  if (p.empty()) return std::string(name);
  if (p.back() != '/') p += '/';
  p += name;
  return p;
}

std::string DirName(std::string_view path) {
  size_t i = path.rfind('/');
  if (i == std::string_view::npos) return ".";
  if (i == 0) return "/";
  return std::string(path.substr(0, i));
}

std::string BaseName(std::string_view path) {
  size_t i = path.rfind('/');
  return std::string(i == std::string_view::npos ? path : path.substr(i + 1));
}

}  // namespace tranship
