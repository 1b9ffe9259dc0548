#pragma once
// TLS for the shipping link: OpenSSL 3 over libuv through memory BIOs (the socket I/O
// stays with libuv; OpenSSL only transforms bytes).
//
// TLS 1.3 preferred, 1.2 the minimum. Both ends present certificates and verify the
// other's against the CA file (mutual authentication) unless verification is turned
// off, which is logged as a warning. The key's passphrase is never logged.

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tranship::wire {

struct TlsOptions {
  bool enabled = false;        // -S
  std::string ca_file;         // -J: trusted CA certificates (PEM)
  std::string cert_file;       // -C: this end's certificate chain (PEM)
  std::string key_file;        // -K: its private key (PEM, may be encrypted)
  std::string key_passphrase;  // -Q (or from a file / environment: see the README)
  bool no_verify = false;      // -V: encrypt, but do not verify the peer
};

// An SSL_CTX configured for one role. Creation fails with a one-line Status naming the
// file and what is wrong with it (missing, unreadable, bad passphrase, key does not
// match the certificate, ...).
class TlsContext {
 public:
  enum class Role { kServer, kClient };
  static Result<std::shared_ptr<TlsContext>> Create(const TlsOptions& options, Role role);
  virtual ~TlsContext() = default;
  virtual Role role() const = 0;
  virtual bool verify_peer() const = 0;
};

// The -Q argument as given on a command line, resolved to the passphrase itself, so
// that `ps` need not show it: "@/path/file" reads the file's first line (without its
// newline), "env:VAR" reads the environment variable VAR; anything else is the
// passphrase itself. Errors name the file or variable, never the passphrase.
Result<std::string> ResolvePassphrase(std::string_view q_arg);

}  // namespace tranship::wire
