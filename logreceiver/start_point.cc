#include "logreceiver/start_point.h"

#include <fmt/format.h>

namespace tranship::logreceiver {

StartChoice ChooseStart(bool from_start, const std::optional<StoneInfo>& info,
                        const std::string& stone) {
  StartChoice c;
  if (from_start) {
    c.mode = wire::StartMode::kFromStart;
    return c;
  }
  if (!info) {
    c.wait = true;
    c.why = fmt::format("the standby stone '{}' is not running (start it with 'startstone {} "
                        "-R', or pass --from-start to ship the primary's whole history)",
                        stone, stone);
    return c;
  }
  if (!info->stats.restore_mode) {
    c.wait = true;
    c.why = fmt::format("the stone '{}' is {}, not in restore mode, so it has no restored "
                        "position to continue (restart it with 'startstone {} -R')",
                        stone, info->state, stone);
    return c;
  }
  c.mode = wire::StartMode::kAfterTid;
  c.lineage = info->restored.lineage;
  c.tid = info->restored.tid;
  c.chain = info->restored.chain;
  return c;
}

}  // namespace tranship::logreceiver
