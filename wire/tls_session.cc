#include "wire/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace tranship::wire {
namespace {

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The peer as this end sees it: a client talks to a logsender, a server to a
// logreceiver.
const char* PeerRole(const TlsContextImpl& ctx) {
  return ctx.role() == TlsContext::Role::kClient ? "logsender" : "logreceiver";
}

std::string VerifyFailure(long v, const TlsContextImpl& ctx, const std::string& host) {
  const char* peer = PeerRole(ctx);
  switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return fmt::format("the {}'s certificate is not signed by a CA in {} (-J)", peer,
                         ctx.ca_file());
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return fmt::format(
          "the {}'s certificate is self-signed and not in {} (-J); sign it with the CA, or "
          "add it to the CA file, or use -V to skip verification",
          peer, ctx.ca_file());
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return fmt::format("the {}'s certificate expired; make a new one (certs/make-certs.sh)",
                         peer);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return fmt::format("the {}'s certificate is not valid yet (check both clocks)", peer);
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return fmt::format(
          "the {}'s certificate does not name {} (its subject alternative names must include "
          "the address given with -A)",
          peer, host);
    case X509_V_ERR_INVALID_PURPOSE:
      return fmt::format("the {}'s certificate is not made for this end of the link (a {} "
                         "needs extendedKeyUsage {})",
                         peer, peer,
                         ctx.role() == TlsContext::Role::kClient ? "serverAuth" : "clientAuth");
    default:
      return fmt::format("the {}'s certificate was refused: {}", peer,
                         X509_verify_cert_error_string(v));
  }
}

}  // namespace

std::string DescribeTlsError(SSL* ssl, const TlsContextImpl& ctx, const std::string& host) {
  unsigned long e = ERR_peek_error();
  int reason = ERR_GET_REASON(e);
  ERR_clear_error();
  const char* peer = PeerRole(ctx);
  long v = SSL_get_verify_result(ssl);
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) return VerifyFailure(v, ctx, host);
  switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return fmt::format("the {} sent no certificate (start it with -C CERT -K KEY)", peer);
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return fmt::format("the {} requires a certificate from this end (give -C CERT -K KEY)",
                         peer);
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      return fmt::format(
          "the {} refused this end's certificate: it is not signed by a CA in the {}'s CA "
          "file (-J)",
          peer, peer);
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return fmt::format("the {} refused this end's certificate: it expired", peer);
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return fmt::format("the {} refused this end's certificate (check its -J and this -C)",
                         peer);
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_VERSION_TOO_LOW:
      return fmt::format(
          "protocol version too old: the {} offers no TLS version this end accepts (TLS 1.2 "
          "is the minimum, 1.3 preferred)",
          peer);
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return fmt::format("the {} does not speak TLS", peer);
    default:
      break;
  }
  if (v != X509_V_OK) return VerifyFailure(v, ctx, host);
  if (e == 0) return "TLS failed (no detail from OpenSSL)";
  const char* r = ERR_reason_error_string(e);
  return fmt::format("TLS failed: {}", r != nullptr ? r : "unknown reason");
}

Result<std::unique_ptr<TlsSession>> TlsSession::Create(std::shared_ptr<TlsContext> ctx,
                                                       const std::string& peer_host,
                                                       std::string peer_addr) {
  auto& impl = static_cast<TlsContextImpl&>(*ctx);
  std::unique_ptr<TlsSession> s(new TlsSession());
  s->ctx_ = std::move(ctx);
  s->peer_addr_ = std::move(peer_addr);
  s->peer_host_ = peer_host;
  s->ssl_ = SSL_new(impl.native());
  s->in_ = BIO_new(BIO_s_mem());
  s->out_ = BIO_new(BIO_s_mem());
  if (s->ssl_ == nullptr || s->in_ == nullptr || s->out_ == nullptr) {
    BIO_free(s->in_);
    BIO_free(s->out_);
    s->in_ = s->out_ = nullptr;
    ERR_clear_error();
    return Status::IOError("cannot create a TLS session (out of memory?)");
  }
  // An empty input BIO means "try again later", not end of file.
  BIO_set_mem_eof_return(s->in_, -1);
  BIO_set_mem_eof_return(s->out_, -1);
  SSL_set_bio(s->ssl_, s->in_, s->out_);
  if (impl.role() == TlsContext::Role::kServer) {
    SSL_set_accept_state(s->ssl_);
  } else {
    SSL_set_connect_state(s->ssl_);
    bool ip = IsIpAddress(peer_host);
    if (!ip && !peer_host.empty()) SSL_set_tlsext_host_name(s->ssl_, peer_host.c_str());
    if (impl.verify_peer() && !peer_host.empty()) {
      int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl_), peer_host.c_str())
                  : SSL_set1_host(s->ssl_, peer_host.c_str());
      if (ok != 1) {
        ERR_clear_error();
        return Status::InvalidArgument(
            fmt::format("cannot check the logsender's certificate against '{}'", peer_host));
      }
    }
  }
  return s;
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::FeedCiphertext(std::string_view bytes) {
  bytes_fed_ += bytes.size();
  BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
}

Status TlsSession::Translate(int ret, const char* during) {
  int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return Status::OK();
  }
  if (err == SSL_ERROR_ZERO_RETURN) return Status::OK();  // close_notify: the caller checks
  std::string why = DescribeTlsError(ssl_, static_cast<const TlsContextImpl&>(*ctx_), peer_host_);
  return Status::IOError(fmt::format("TLS {} with {} failed: {}", during, peer_addr_, why));
}

Status TlsSession::Handshake(bool* done) {
  *done = false;
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    *done = true;
    return Status::OK();
  }
  Status st = Translate(r, "handshake");
  if (st.ok() && SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN) {
    return Status::IOError(
        fmt::format("TLS handshake with {} failed: the peer closed the session", peer_addr_));
  }
  return st;
}

Status TlsSession::ReadPlaintext(std::string* out, bool* peer_closed) {
  *peer_closed = false;
  char buf[16384];
  for (;;) {
    size_t n = 0;
    int r = SSL_read_ex(ssl_, buf, sizeof(buf), &n);
    if (r == 1) {
      out->append(buf, n);
      continue;
    }
    if (SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN) {
      *peer_closed = true;
      return Status::OK();
    }
    return Translate(r, "read");
  }
}

Status TlsSession::WritePlaintext(std::string_view bytes) {
  size_t written = 0;
  // Memory BIOs grow, so SSL_write_ex takes everything in one call.
  int r = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written);
  if (r == 1 && written == bytes.size()) return Status::OK();
  Status st = Translate(r, "write");
  if (st.ok()) st = Status::IOError(fmt::format("TLS write to {} failed", peer_addr_));
  return st;
}

void TlsSession::Shutdown() {
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

void TlsSession::TakeCiphertext(std::string* out) {
  char* p = nullptr;
  long n = BIO_get_mem_data(out_, &p);
  if (n <= 0) return;
  out->append(p, static_cast<size_t>(n));
  (void)BIO_reset(out_);
}

size_t TlsSession::PendingCiphertext() const { return BIO_ctrl_pending(out_); }

std::string TlsSession::PeerSubject() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  X509_NAME* name = X509_get_subject_name(cert);
  char cn[256];
  int n = X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn));
  if (n <= 0) return "";
  return fmt::format("CN={}", std::string_view(cn, static_cast<size_t>(n)));
}

}  // namespace tranship::wire
