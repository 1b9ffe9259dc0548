#include "engine/restore_mode.h"

#include <fmt/format.h>

namespace tranship {

std::string RestoredPosition::ToString() const {
  return fmt::format("lineage {} TID {} ({})", lineage.ToHex(), tid, pos.ToString());
}

}  // namespace tranship

namespace tranship {

Status InRestoreModeStatus(std::string_view stone) {
  return Status::Busy(
             fmt::format("The stone '{}' is in restore mode; it accepts no commits", stone))
      .WithReason(kReasonInRestoreMode);
}

Status NotInRestoreModeStatus(std::string_view stone) {
  return Status::Busy(fmt::format("The stone '{}' is not in restore mode", stone))
      .WithReason(kReasonNotInRestoreMode);
}

Status NoTranlogsInRestoreModeStatus(std::string_view stone) {
  return Status::Busy(
             fmt::format("The stone '{}' is in restore mode and writes no tranlogs", stone))
      .WithReason(kReasonNoTranlogsInRestoreMode);
}

Status CommitsSuspendedStatus(std::string_view stone) {
  return Status::Busy(
             fmt::format("Commits to the stone '{}' are suspended for failover", stone))
      .WithReason(kReasonCommitsSuspended);
}

Status AlreadySuspendedStatus(std::string_view stone) {
  return Status::AlreadyExists(
             fmt::format("Commits to the stone '{}' are already suspended", stone))
      .WithReason(kReasonAlreadySuspended);
}

Status NotSuspendedStatus(std::string_view stone) {
  return Status::InvalidArgument(
      fmt::format("Commits to the stone '{}' are not suspended", stone));
}

}  // namespace tranship
