// TLS refusals and options over loopback, with certificates from certs/make-certs.sh:
// every wrong certificate, a missing one, an old protocol version and a plaintext/TLS
// mismatch is refused, with a one-line reason on each side that can see it; -V
// connects with any certificate; key files, passphrases and CA files that are wrong are
// named in the error.

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <cstdlib>

#include "test/wire/transport_harness.h"
#include "wire/protocol.h"
#include "wire/tls_session.h"

namespace tranship::wire::test {
namespace {

using Role = TlsContext::Role;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::shared_ptr<TlsContext> GoodServer() {
  return MustCreate(Options("server.pem", "server.key"), Role::kServer);
}

// Runs a link until both sides gave up, and checks nothing got through.
void ExpectRefused(Link& link) {
  REQUIRE(link.loop.RunUntil([&] { return !link.refused.empty() && link.client.closed; }));
  CHECK(link.server.t == nullptr);  // never handed to the daemon
  CHECK_FALSE(link.client.closed->ok());
  MESSAGE("server: ", link.refused[0].message());
  MESSAGE("client: ", link.client.reason());
}

TEST_CASE("ClientCertificateFromAnotherCaIsRefused") {
  Loop loop;
  Link link(loop);
  link.Open(GoodServer(), MustCreate(Options("other-client.pem", "other-client.key"), Role::kClient));
  ExpectRefused(link);
  CHECK(Contains(link.refused[0].message(), "the logreceiver's certificate is not signed by a CA in"));
  CHECK(Contains(link.refused[0].message(), "ca.pem (-J)"));
  CHECK(Contains(link.client.reason(), "the logsender refused this end's certificate"));
}

TEST_CASE("ClientWithoutCertificateIsRefused") {
  Loop loop;
  Link link(loop);
  link.Open(GoodServer(), MustCreate(Options("", ""), Role::kClient));
  ExpectRefused(link);
  CHECK(Contains(link.refused[0].message(), "the logreceiver sent no certificate"));
  CHECK(Contains(link.client.reason(), "requires a certificate"));
}

TEST_CASE("ExpiredClientCertificateIsRefused") {
  Loop loop;
  Link link(loop);
  link.Open(GoodServer(),
            MustCreate(Options("expired-client.pem", "expired-client.key"), Role::kClient));
  ExpectRefused(link);
  CHECK(Contains(link.refused[0].message(), "the logreceiver's certificate expired"));
  CHECK(Contains(link.client.reason(), "it expired"));
}

TEST_CASE("SelfSignedServerCertificateIsRefused") {
  Loop loop;
  Link link(loop);
  link.Open(MustCreate(Options("selfsigned.pem", "selfsigned.key"), Role::kServer),
            MustCreate(Options("client.pem", "client.key"), Role::kClient));
  ExpectRefused(link);
  CHECK(Contains(link.client.reason(), "the logsender's certificate is self-signed"));
  CHECK(Contains(link.refused[0].message(), "refused this end's certificate"));
}

TEST_CASE("ServerCertificateFromAnotherCaIsRefused") {
  // The client trusts only other-ca.pem.
  Loop loop;
  Link link(loop);
  link.Open(GoodServer(),
            MustCreate(Options("client.pem", "client.key", "other-ca.pem"), Role::kClient));
  ExpectRefused(link);
  CHECK(Contains(link.client.reason(), "the logsender's certificate is not signed by a CA in"));
  CHECK(Contains(link.client.reason(), "other-ca.pem"));
}

TEST_CASE("ServerCertificateThatDoesNotNameTheAddressIsRefused") {
  // A server certificate from the right CA whose only name is elsewhere.example.
  std::string d = CertDir();
  std::string cmd =
      "cd " + d + " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
      "-out elsewhere.key 2>/dev/null && openssl req -new -key elsewhere.key -subj "
      "/CN=elsewhere -out elsewhere.csr && printf 'subjectAltName=DNS:elsewhere.example\n"
      "extendedKeyUsage=serverAuth\n' > elsewhere.ext && openssl x509 -req -in elsewhere.csr "
      "-CA ca.pem -CAkey ca.key -CAcreateserial -CAserial elsewhere.srl -days 30 "
      "-extfile elsewhere.ext -out elsewhere.pem 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    Loop loop;
    Link link(loop);
    link.host = host;
    link.Open(MustCreate(Options("elsewhere.pem", "elsewhere.key"), Role::kServer),
              MustCreate(Options("client.pem", "client.key"), Role::kClient));
    ExpectRefused(link);
    CHECK(Contains(link.client.reason(),
                   std::string("the logsender's certificate does not name ") + host));
  }
}

TEST_CASE("SelfSignedCertificateIsAcceptedWhenItsSignerIsInTheCaFile") {
  // selfsigned.pem is its own signer: trusting it makes it good.
  Loop loop;
  Link link(loop);
  link.Open(MustCreate(Options("selfsigned.pem", "selfsigned.key"), Role::kServer),
            MustCreate(Options("client.pem", "client.key", "selfsigned.pem"), Role::kClient));
  // The server still wants a client certificate from ca.pem: give it one.
  REQUIRE(loop.RunUntil([&] { return link.server.data == "HELLO"; }));
}

TEST_CASE("TlsOlderThan12IsRefused") {
  // OpenSSL 3.0 allows a context capped at TLS 1.1 when its security level is 0; the
  // client offers TLS 1.0-1.1 only and the server (minimum 1.2) refuses it.
  Loop loop;
  Link link(loop);
  auto client = MustCreate(Options("client.pem", "client.key"), Role::kClient);
  SSL_CTX* raw = static_cast<TlsContextImpl&>(*client).native();
  SSL_CTX_set_security_level(raw, 0);
  REQUIRE(SSL_CTX_set_min_proto_version(raw, TLS1_VERSION) == 1);
  REQUIRE(SSL_CTX_set_max_proto_version(raw, TLS1_1_VERSION) == 1);
  link.Open(GoodServer(), client);
  ExpectRefused(link);
  CHECK(Contains(link.refused[0].message(), "protocol version too old"));
  CHECK(Contains(link.client.reason(), "protocol version too old"));
}

TEST_CASE("PlaintextReceiverAtATlsSenderIsRefusedOnBothEnds") {
  Loop loop;
  Link link(loop);
  link.Open(GoodServer(), nullptr);
  REQUIRE(loop.RunUntil([&] { return !link.refused.empty() && link.client.closed; }));
  CHECK(link.refused[0].message().ends_with(
      "sent plaintext to this TLS logsender; start the logreceiver with -S and certificates"));
  // The receiver reads a Refuse frame in plaintext, then the connection closes.
  FrameReader r(kMaxSenderFrame);
  r.Feed(link.client.data);
  Frame f;
  REQUIRE(r.Next(&f) == FrameReader::Result::kFrame);
  REQUIRE(f.type == MsgType::kRefuse);
  Refuse refuse;
  REQUIRE(DecodeRefuse(f.body, &refuse).ok());
  CHECK(refuse.code == RefuseCode::kTlsRequired);
  CHECK(refuse.message ==
        "this logsender requires TLS; start the logreceiver with -S and certificates");
}

TEST_CASE("TlsReceiverAtAPlaintextSenderIsRefusedOnBothEnds") {
  Loop loop;
  Link link(loop);
  link.Open(nullptr, MustCreate(Options("client.pem", "client.key"), Role::kClient));
  ExpectRefused(link);
  CHECK(link.refused[0].message().ends_with("tried TLS; start the logsender with -S"));
  CHECK(Contains(link.client.reason(), "does not speak TLS (is it started without -S?)"));
  CHECK(Contains(link.client.reason(), "the logsender at 127.0.0.1:"));
}

TEST_CASE("NoVerifyConnectsWithAnyCertificate") {
  Loop loop;
  Link link(loop);
  TlsOptions s = Options("selfsigned.pem", "selfsigned.key", "");
  s.no_verify = true;
  TlsOptions c = Options("other-client.pem", "other-client.key", "");
  c.no_verify = true;
  auto server = MustCreate(s, Role::kServer);
  CHECK_FALSE(server->verify_peer());
  link.Open(server, MustCreate(c, Role::kClient));
  REQUIRE(loop.RunUntil([&] { return link.server.data == "HELLO" && link.client.ready; }));
  CHECK(link.server.t->IsTls());
  CHECK(link.server.t->PeerName().ends_with("CN=testhost"));  // still named, not checked
  link.server.t->Write(std::string("WELCOME"));
  REQUIRE(loop.RunUntil([&] { return link.client.data == "WELCOME"; }));
}

TEST_CASE("EncryptedKeyLoadsWithItsPassphrase") {
  auto pass = ResolvePassphrase("@" + Cert("passphrase.txt"));
  REQUIRE(pass.ok());
  CHECK(pass.value().size() == 32);
  TlsOptions o = Options("client.pem", "client-encrypted.key");
  o.key_passphrase = pass.value();
  auto ctx = TlsContext::Create(o, Role::kClient);
  REQUIRE_MESSAGE(ctx.ok(), ctx.status().ToString());

  // And it works on the wire.
  Loop loop;
  Link link(loop);
  TlsOptions so = Options("server.pem", "server-encrypted.key");
  so.key_passphrase = pass.value();
  link.Open(MustCreate(so, Role::kServer), ctx.value());
  REQUIRE(loop.RunUntil([&] { return link.server.data == "HELLO"; }));
}

TEST_CASE("BadKeysAndFilesAreNamed") {
  TlsOptions o = Options("client.pem", "client-encrypted.key");
  SUBCASE("wrong passphrase") {
    o.key_passphrase = "not the passphrase";
    auto r = TlsContext::Create(o, Role::kClient);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() ==
          "cannot load the private key " + Cert("client-encrypted.key") + ": bad passphrase (-Q)");
    CHECK_FALSE(Contains(r.status().message(), "not the passphrase"));
  }
  SUBCASE("no passphrase") {
    auto r = TlsContext::Create(o, Role::kClient);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), "is encrypted: give its passphrase with -Q"));
  }
  SUBCASE("key of another certificate") {
    o.key_file = Cert("server.key");
    auto r = TlsContext::Create(o, Role::kClient);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), "does not match the certificate"));
  }
  SUBCASE("missing certificate file") {
    o.cert_file = Cert("nope.pem");
    auto r = TlsContext::Create(o, Role::kServer);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), "nope.pem"));
    CHECK(Contains(r.status().message(), "(-C)"));
  }
  SUBCASE("a certificate that is not PEM") {
    o.cert_file = Cert("passphrase.txt");
    auto r = TlsContext::Create(o, Role::kServer);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), "cannot load the certificate"));
  }
  SUBCASE("no CA file") {
    o = Options("client.pem", "client.key", "");
    auto r = TlsContext::Create(o, Role::kClient);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), "-J"));
  }
  SUBCASE("a server without a certificate") {
    o = Options("", "");
    auto r = TlsContext::Create(o, Role::kServer);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), "-C"));
  }
}

TEST_CASE("ResolvePassphraseReadsFilesAndTheEnvironment") {
  CHECK(ResolvePassphrase("plain words").value() == "plain words");
  ::setenv("TRANSHIP_TEST_PASSPHRASE", "from env", 1);
  CHECK(ResolvePassphrase("env:TRANSHIP_TEST_PASSPHRASE").value() == "from env");
  ::unsetenv("TRANSHIP_TEST_PASSPHRASE");
  auto r = ResolvePassphrase("env:TRANSHIP_TEST_PASSPHRASE");
  REQUIRE_FALSE(r.ok());
  CHECK(Contains(r.status().message(), "TRANSHIP_TEST_PASSPHRASE is not set"));
  auto f = ResolvePassphrase("@/nonexistent/pass.txt");
  REQUIRE_FALSE(f.ok());
  CHECK(Contains(f.status().message(), "/nonexistent/pass.txt"));
}

}  // namespace
}  // namespace tranship::wire::test
