#include "wire/transport.h"

namespace tranship::wire {

std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> MemoryPipe(uv_loop_t*) {
  return {};
}

}  // namespace tranship::wire
