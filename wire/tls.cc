#include "wire/tls.h"

namespace tranship::wire {

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsOptions&, Role) {
  return Status::NotSupported("todo");
}
Result<std::string> ResolvePassphrase(std::string_view q) { return std::string(q); }

}  // namespace tranship::wire
