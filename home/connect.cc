#include "home/connect.h"

#include "home/stone_state.h"

namespace tranship::home {

Result<std::unique_ptr<StoneClient>> ConnectStone(const Home& home, const std::string& name) {
  TRANSHIP_RETURN_IF_ERROR(RequireRunning(home, name));
  return StoneClient::Connect(home.SocketPath(name), name);
}

}  // namespace tranship::home
