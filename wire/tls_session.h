#pragma once
// Inside wire/: the SSL_CTX behind a TlsContext, and a TLS session that only
// transforms bytes through two memory BIOs. The socket I/O stays with the transport:
// it feeds ciphertext in, takes ciphertext out, and moves plaintext across.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "wire/tls.h"

namespace tranship::wire {

class TlsContextImpl : public TlsContext {
 public:
  TlsContextImpl(SSL_CTX* ctx, Role role, bool verify, std::string ca_file)
      : ctx_(ctx), role_(role), verify_(verify), ca_file_(std::move(ca_file)) {}
  ~TlsContextImpl() override { SSL_CTX_free(ctx_); }
  Role role() const override { return role_; }
  bool verify_peer() const override { return verify_; }
  SSL_CTX* native() const { return ctx_; }
  const std::string& ca_file() const { return ca_file_; }

 private:
  SSL_CTX* ctx_;
  Role role_;
  bool verify_;
  std::string ca_file_;
};

class TlsSession {
 public:
  // `peer_host` (client role): the name or address the certificate must carry.
  // `peer_addr` names the peer in messages ("127.0.0.1:5555").
  static Result<std::unique_ptr<TlsSession>> Create(std::shared_ptr<TlsContext> ctx,
                                                     const std::string& peer_host,
                                                     std::string peer_addr);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext from the socket.
  void FeedCiphertext(std::string_view bytes);
  // Advances the handshake; *done once it completed. Errors are one line in plain
  // words ("the peer's certificate is not signed by a CA in ca.pem (-J)").
  Status Handshake(bool* done);
  // Appends the plaintext that arrived to *out; *peer_closed on close_notify.
  Status ReadPlaintext(std::string* out, bool* peer_closed);
  // Encrypts `bytes` (after the handshake) into the outgoing ciphertext.
  Status WritePlaintext(std::string_view bytes);
  // Queues a close_notify.
  void Shutdown();
  // Moves the ciphertext waiting to be sent to *out (appended).
  void TakeCiphertext(std::string* out);
  size_t PendingCiphertext() const;
  // "CN=standby1" of the peer's certificate, or "" without one.
  std::string PeerSubject() const;
  // How many ciphertext bytes have been fed so far (mismatch detection).
  uint64_t bytes_fed() const { return bytes_fed_; }

 private:
  TlsSession() = default;
  Status Translate(int ret, const char* during);

  std::shared_ptr<TlsContext> ctx_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // network -> SSL (owned by ssl_)
  BIO* out_ = nullptr;  // SSL -> network (owned by ssl_)
  std::string peer_addr_;
  std::string peer_host_;
  uint64_t bytes_fed_ = 0;
};

// The one-line reason for a failed TLS operation, from the SSL error queue and the
// verification result (clears the queue). Exposed for tests of the wording.
std::string DescribeTlsError(SSL* ssl, const TlsContextImpl& ctx, const std::string& peer_host);

}  // namespace tranship::wire
