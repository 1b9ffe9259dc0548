#pragma once
// Status and Result<T>: the error values every tranship module returns.
//
// A Status is ok or carries a code and a one-line message meant for an operator:
// what is wrong and, where there is one, how to fix it. Functions that produce a
// value return Result<T>, which holds either the value or a non-ok Status.
//
// The fact and the remedy are kept apart, as PostgreSQL's errmsg and errhint are: the
// layer that knows the fact states it, and may name the situation with a reason (a
// short stable word, such as "in-restore-mode"); the layer that knows the operator's
// commands adds the hint ("To fix this run ..."), chosen by that reason. message() is
// what the operator reads: the fact, then the hint.

#include <algorithm>
#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tranship {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,
    kCorruption,
    kIOError,
    kInvalidArgument,
    kConflict,      // optimistic read validation failed; retry the transaction
    kNoSpace,       // ENOSPC: nothing was written, retry once space returns
    kBusy,          // locked by another process, or the operation is not allowed now
    kAlreadyExists,
    kNotSupported,
    kAborted,       // the operation was cancelled (shutdown, peer gone)
    kTimedOut,
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status NotSupported(std::string msg) {
    return Status(Code::kNotSupported, std::move(msg));
  }
  static Status Aborted(std::string msg) { return Status(Code::kAborted, std::move(msg)); }
  static Status TimedOut(std::string msg) { return Status(Code::kTimedOut, std::move(msg)); }
  // Maps an errno value to kNoSpace / kNotFound / kIOError with "context: strerror".
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  // The fact, then the hint if one was added.
  const std::string& message() const { return msg_; }
  std::string_view fact() const { return std::string_view(msg_).substr(0, fact_size_); }
  std::string_view hint() const {
    return std::string_view(msg_).substr(std::min(msg_.size(), fact_size_ + joiner_size_));
  }
  // The situation, named by the layer that states the fact; "" if none.
  std::string_view reason() const { return reason_; }
  // Names the situation (`reason` must outlive the Status: a string literal).
  Status WithReason(const char* reason) && {
    reason_ = reason;
    return std::move(*this);
  }
  // Adds (or replaces) the remedy after the fact, joined by `joiner`: "Commits are
  // suspended" + "; " + "to accept commits again run ...".
  Status WithHint(std::string_view hint, std::string_view joiner = ". ") &&;
  // "Corruption: tranlog3.dbf offset 4096: checksum mismatch"
  std::string ToString() const;
  static const char* CodeName(Code c);

 private:
  Status(Code c, std::string msg) : code_(c), msg_(std::move(msg)), fact_size_(msg_.size()) {}
  Code code_ = Code::kOk;
  std::string msg_;  // the fact, then the joiner and the hint
  size_t fact_size_ = 0;
  size_t joiner_size_ = 0;
  const char* reason_ = "";
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : status_(std::move(s)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tranship

// Returns early from the enclosing function if `expr` yields a non-ok Status.
#define TRANSHIP_RETURN_IF_ERROR(expr)          \
  do {                                          \
    ::tranship::Status _st = (expr);            \
    if (!_st.ok()) return _st;                  \
  } while (0)
