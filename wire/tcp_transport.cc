#include "wire/transport.h"

namespace tranship::wire {

Result<std::unique_ptr<Listener>> Listener::Listen(
    uv_loop_t*, const std::string&, int, std::shared_ptr<TlsContext>,
    std::function<void(std::unique_ptr<Transport>)>, ListenOptions) {
  return Status::NotSupported("todo");
}
void Connect(uv_loop_t*, const std::string&, int, std::shared_ptr<TlsContext>,
             std::function<void(Result<std::unique_ptr<Transport>>)> done) {
  done(Status::NotSupported("todo"));
}

}  // namespace tranship::wire
