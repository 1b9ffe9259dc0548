#pragma once
// The restore and failover admin verbs (docs/standby.md), dispatched by RunAdminVerb:
//
//   restore-from-archive-logs DIR... [--to-end-of-log N] [--prefix P]
//   restore-from-current-logs
//   continuous-restore DIR... [--prefix P]      stop-continuous-restore
//   restore-status [--json]                     commit-restore [--accept-gap]
//   suspend-commits                             resume-commits

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "stone/stone.h"
#include "stone/admin.h"

namespace tranship {

extern const char* const kRestoreAdminVerbs;

bool IsRestoreVerb(std::string_view verb);
Result<std::string> RunRestoreVerb(Stone* stone, const AdminContext& ctx, std::string_view verb,
                                   const std::vector<std::string>& args);

}  // namespace tranship
