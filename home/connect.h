#pragma once
// Logging in to a stone of this home from a command.

#include <memory>
#include <string>

#include "base/status.h"
#include "home/home.h"
#include "client/client.h"

namespace tranship::home {

// Checks that the stone exists and runs (with the operator messages of
// RequireRunning), then connects to its socket.
Result<std::unique_ptr<StoneClient>> ConnectStone(const Home& home, const std::string& name);

}  // namespace tranship::home
