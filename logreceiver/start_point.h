#pragma once
// Where a logreceiver with an empty archive asks its logsender to start
// (docs/protocol.md, Hello modes).
//
// A standby stone holds a restored state: seeded from a backup, copied from the primary,
// or an old primary restarted with -R after a planned failover. Its archive must start
// where that state ends, so the receiver asks the stone (client protocol `info`: the
// restored lineage, TID and chain) and says kAfterTid there; the sender then ships the
// whole file holding the next TID, and continuous restore skips the records at or
// before the stone's TID once their chain is checked. Shipping from tranlog 1 instead
// would only work for a standby that holds nothing yet, so kFromStart is used only when
// the operator says so (startlogreceiver --from-start). Until the stone answers (it is
// not running, or not in restore mode) the receiver waits: guessing would either ship
// the whole history for nothing or feed the stone from the wrong place.

#include <optional>
#include <string>

#include "client/client.h"
#include "wire/protocol.h"

namespace tranship::logreceiver {

struct StartChoice {
  bool wait = false;        // ask the stone again later; `why` says what is awaited
  std::string why;
  wire::StartMode mode = wire::StartMode::kFromStart;
  Lineage lineage;          // kAfterTid: the stone's restored history ends here
  uint64_t tid = 0;
  uint64_t chain = 0;
};

// `info`: what the standby stone says about itself; nullopt when it cannot be reached.
StartChoice ChooseStart(bool from_start, const std::optional<StoneInfo>& info,
                        const std::string& stone);

}  // namespace tranship::logreceiver
