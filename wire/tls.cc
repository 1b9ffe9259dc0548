// TlsContext::Create: one SSL_CTX per role, with every file problem named in one line.

#include "wire/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "base/log.h"
#include "wire/tls_session.h"

namespace tranship::wire {
namespace {

// The password callback's view of the passphrase; it is only borrowed for the one
// SSL_CTX_use_PrivateKey_file call and never logged.
struct PassphraseRequest {
  const std::string* passphrase = nullptr;
  bool asked = false;
};

int PasswordCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* req = static_cast<PassphraseRequest*>(userdata);
  if (req == nullptr) return 0;
  req->asked = true;
  const std::string& p = *req->passphrase;
  if (p.empty() || p.size() > static_cast<size_t>(size)) return 0;
  std::memcpy(buf, p.data(), p.size());
  return static_cast<int>(p.size());
}

// The last OpenSSL error as text, the queue cleared.
std::string OpenSslError() {
  unsigned long e = ERR_peek_last_error();
  std::string s = e != 0 ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error"
                         : "unknown error";
  ERR_clear_error();
  return s;
}

// Missing and unreadable files get errno's words rather than OpenSSL's.
Status CheckReadable(const std::string& path, const char* what, const char* flag) {
  if (path.empty()) {
    return Status::InvalidArgument(fmt::format("TLS (-S) needs {}: give it with {}", what, flag));
  }
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return Status::FromErrno(errno, fmt::format("cannot read {} {} ({})", what, path, flag));
  }
  std::fclose(f);
  return Status::OK();
}

Status KeyMismatch(const TlsOptions& o) {
  return Status::InvalidArgument(fmt::format(
      "the private key {} does not match the certificate {} (-K and -C must be a pair)",
      o.key_file, o.cert_file));
}

Status LoadKey(SSL_CTX* ctx, const TlsOptions& o) {
  TRANSHIP_RETURN_IF_ERROR(CheckReadable(o.key_file, "the private key", "-K"));
  PassphraseRequest req{&o.key_passphrase, false};
  SSL_CTX_set_default_passwd_cb(ctx, PasswordCallback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, &req);
  int ok = SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (ok == 1) {
    ERR_clear_error();
    return Status::OK();
  }
  bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
  std::string detail = OpenSslError();
  if (mismatch) return KeyMismatch(o);
  if (req.asked && o.key_passphrase.empty()) {
    return Status::InvalidArgument(fmt::format(
        "the private key {} is encrypted: give its passphrase with -Q (see certs/README.md)",
        o.key_file));
  }
  if (req.asked) {
    return Status::InvalidArgument(
        fmt::format("cannot load the private key {}: bad passphrase (-Q)", o.key_file));
  }
  return Status::InvalidArgument(fmt::format(
      "cannot load the private key {}: not a PEM private key ({}) (-K)", o.key_file, detail));
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsOptions& o, Role role) {
  ERR_clear_error();
  bool server = role == Role::kServer;
  SSL_CTX* raw = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (raw == nullptr) return Status::IOError("cannot create a TLS context: " + OpenSslError());
  auto ctx = std::make_shared<TlsContextImpl>(raw, role, !o.no_verify, o.ca_file);

  // TLS 1.3 is the default maximum, so it is chosen whenever the peer offers it.
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(raw, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Sessions are long and never resumed: no tickets to send or keep.
  SSL_CTX_set_options(raw, SSL_OP_NO_TICKET);
  if (server) SSL_CTX_set_num_tickets(raw, 0);

  // The certificate: required of a server; a client without one is refused by any
  // verifying server, which says so in plain words.
  if (server || !o.cert_file.empty()) {
    TRANSHIP_RETURN_IF_ERROR(CheckReadable(o.cert_file, "the certificate", "-C"));
    if (SSL_CTX_use_certificate_chain_file(raw, o.cert_file.c_str()) != 1) {
      return Status::InvalidArgument(fmt::format(
          "cannot load the certificate {}: {} (-C wants a PEM certificate chain)", o.cert_file,
          OpenSslError()));
    }
    TRANSHIP_RETURN_IF_ERROR(LoadKey(raw, o));
    if (SSL_CTX_check_private_key(raw) != 1) {
      ERR_clear_error();
      return KeyMismatch(o);
    }
  }

  if (o.no_verify) {
    TS_LOG_WARN("TLS peer verification is off (-V): the link is encrypted, but the {} is not "
                "authenticated",
                server ? "logreceiver" : "logsender");
    // Still ask for the client's certificate, to name it in logs; accept any.
    SSL_CTX_set_verify(raw, server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       [](int, X509_STORE_CTX*) { return 1; });
  } else {
    TRANSHIP_RETURN_IF_ERROR(CheckReadable(o.ca_file, "the CA file", "-J"));
    if (SSL_CTX_load_verify_locations(raw, o.ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument(fmt::format(
          "cannot load the CA file {}: {} (-J wants PEM certificates)", o.ca_file, OpenSslError()));
    }
    if (server) {
      // Mutual authentication: no client certificate, no connection.
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(raw, names);
      SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    } else {
      SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
    }
  }
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(std::move(ctx));
}

Result<std::string> ResolvePassphrase(std::string_view q) {
  if (q.starts_with("@")) {
    std::string path(q.substr(1));
    std::ifstream f(path);
    if (!f) return Status::FromErrno(errno, fmt::format("cannot read the passphrase file {} (-Q @FILE)", path));
    std::string line;
    std::getline(f, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      return Status::InvalidArgument(
          fmt::format("the passphrase file {} is empty (-Q @FILE wants the passphrase on its "
                      "first line)",
                      path));
    }
    return line;
  }
  if (q.starts_with("env:")) {
    std::string var(q.substr(4));
    const char* v = std::getenv(var.c_str());
    if (v == nullptr || *v == '\0') {
      return Status::InvalidArgument(fmt::format(
          "the environment variable {} is not set (-Q env:{} reads the passphrase from it)", var,
          var));
    }
    return std::string(v);
  }
  return std::string(q);
}

}  // namespace tranship::wire
