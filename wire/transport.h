#pragma once
// Byte-stream transports for the shipping daemons, behind one small interface so the
// daemon logic runs the same over TCP, TLS over TCP, or an in-memory pipe in tests.
//
// REQUIRES: every call on the loop thread of the uv_loop_t the transport belongs to;
// callbacks run on that thread too.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "base/status.h"
#include "wire/tls.h"

namespace tranship::wire {

// An immutable buffer several connections can send without copying it (a Data frame
// compressed once for all receivers at the same position).
using SharedBuffer = std::shared_ptr<const std::string>;

// Write() returns false once this much is queued on one connection; on_writable follows
// when the queue is back under the low-water mark. Large enough to keep a TLS link busy
// between two loop turns, small enough that five receivers stay cheap.
inline constexpr size_t kWriteHighWater = 4 << 20;
inline constexpr size_t kWriteLowWater = 1 << 20;

class Transport {
 public:
  struct Callbacks {
    // The connection is ready for the protocol (TCP connected; TLS handshake done).
    std::function<void()> on_ready;
    // Plaintext bytes arrived.
    std::function<void(std::string_view)> on_data;
    // Queued output fell below the low-water mark after Write() returned false.
    std::function<void()> on_writable;
    // The connection is gone: peer closed, error, TLS failure, or Close(). Runs exactly
    // once; the transport may be destroyed from inside it.
    std::function<void(const Status&)> on_closed;
  };

  virtual ~Transport() = default;
  virtual void Start(Callbacks cb) = 0;
  // Queues bytes. Returns false when the queue is above the high-water mark (the
  // caller should wait for on_writable before queueing more); the bytes are queued
  // either way.
  virtual bool Write(SharedBuffer data) = 0;
  bool Write(std::string data) {
    return Write(std::make_shared<const std::string>(std::move(data)));
  }
  virtual size_t QueuedBytes() const = 0;
  virtual void PauseReading() = 0;
  virtual void ResumeReading() = 0;
  // Sends what is queued (best effort), then closes; on_closed(reason) follows.
  virtual void Close(const Status& reason) = 0;
  // "127.0.0.1:51234" (plus ", CN=standby1" once a TLS peer is verified).
  virtual std::string PeerName() const = 0;
  virtual bool IsTls() const = 0;
};

// How long a peer may take to become a protocol peer: the TLS handshake, or on a
// plaintext link the first bytes (the receiver speaks first). A peer that connects and
// sends nothing is dropped after it.
inline constexpr uint32_t kHandshakeTimeoutMs = 10000;

// How many accepted connections may be in their handshake at once (not yet handed to
// on_accept). Each costs a TLS session and buffers (about 60 KiB with a ClientHello
// begun); beyond this the oldest is dropped for each new one. A real peer finishes its
// handshake within a round trip or two, so a flood of stalled handshakes pushes out
// only its own, and memory stays bounded whatever it sends.
inline constexpr size_t kMaxPendingConnections = 128;

struct ListenOptions {
  // Peers dropped before on_accept (TLS/plaintext mismatch, failed TLS handshake,
  // silence), one line each ("the peer at 127.0.0.1:5123 tried TLS; start the
  // logsender with -S"). Unset: logged as a warning.
  std::function<void(const Status&)> on_refused_peer;
  uint32_t handshake_timeout_ms = kHandshakeTimeoutMs;
  size_t max_pending = kMaxPendingConnections;
};

// Accepts connections on addr:port; with `tls` set each is wrapped in a TLS server
// session. A connection is handed to `on_accept` only once it is a protocol peer: TLS
// handshake done (client certificate verified), or on a plaintext listener once its
// first bytes are not a TLS ClientHello. Plaintext bytes where a TLS ClientHello is
// expected (and the reverse) are detected and reported by `on_refused_peer` with a
// one-line reason; a TLS listener also answers a plaintext peer with a plaintext
// Refuse frame (RefuseCode::kTlsRequired) so that the receiver can log why.
class Listener {
 public:
  static Result<std::unique_ptr<Listener>> Listen(
      uv_loop_t* loop, const std::string& addr, int port, std::shared_ptr<TlsContext> tls,
      std::function<void(std::unique_ptr<Transport>)> on_accept,
      ListenOptions options = {});
  virtual ~Listener() = default;
  virtual int port() const = 0;  // the bound port (useful with port 0 in tests)
  virtual void Close() = 0;
};

// Connects to host:port (TLS client session when `tls` is set, verifying the peer's
// name `host` unless the context says not to). `done` runs once with the transport,
// not yet started, or the reason it failed (a refused connection, an unknown host); it
// runs from the loop, except when the resolver cannot even start (bad arguments).
// The TLS handshake runs after Start(); its failure arrives through on_closed with a
// one-line reason ("the logsender at HOST:PORT does not speak TLS (is it started
// without -S?)", "the peer's certificate is not signed by a CA in ca.pem (-J)").
void Connect(uv_loop_t* loop, const std::string& host, int port, std::shared_ptr<TlsContext> tls,
             std::function<void(Result<std::unique_ptr<Transport>>)> done);

// Two transports joined back to back on one loop, for tests of daemon logic.
std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> MemoryPipe(uv_loop_t* loop);

}  // namespace tranship::wire
