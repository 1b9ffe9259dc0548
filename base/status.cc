#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace tranship {

const char* Status::CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "Not found";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "I/O error";
    case Code::kInvalidArgument: return "Invalid argument";
    case Code::kConflict: return "Conflict";
    case Code::kNoSpace: return "No space";
    case Code::kBusy: return "Busy";
    case Code::kAlreadyExists: return "Already exists";
    case Code::kNotSupported: return "Not supported";
    case Code::kAborted: return "Aborted";
    case Code::kTimedOut: return "Timed out";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  s += ": ";
  s += msg_;
  return s;
}

Status Status::WithHint(std::string_view hint, std::string_view joiner) && {
  msg_.resize(fact_size_);
  joiner_size_ = joiner.size();
  msg_ += joiner;
  msg_ += hint;
  return std::move(*this);
}

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return NoSpace(std::move(msg));
  if (err == ENOENT) return NotFound(std::move(msg));
  if (err == EEXIST) return AlreadyExists(std::move(msg));
  if (err == EWOULDBLOCK) return Busy(std::move(msg));
  return IOError(std::move(msg));
}

}  // namespace tranship
