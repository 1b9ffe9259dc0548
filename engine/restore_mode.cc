#include "engine/restore_mode.h"

#include <fmt/format.h>

namespace tranship {

std::string RestoredPosition::ToString() const {
  return fmt::format("lineage {} TID {} ({})", lineage.ToHex(), tid, pos.ToString());
}

}  // namespace tranship
