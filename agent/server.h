// Server: the agent's network front end (Boost.Beast on Asio).
//
// Listeners:
//   - TCP on options.host:options.port (port 0 = ephemeral), mutual TLS by
//     default (TLS 1.2+, client certificate required, see tls_context.h).
//     Plain TCP only with tls = kPlain, and only on a loopback address: a
//     non-loopback bind without TLS is refused by Start().
//   - A Unix socket (options.unix_socket, none when empty), mode 0600, its
//     parent directory created 0755. An existing file there is replaced only
//     if it is a socket nobody answers on (a stale one); a live agent or a
//     non-socket file makes Start() fail.
//
// Every connection speaks HTTP/1.1 with keep-alive and pipelining:
//   POST /rpc        JSON-RPC 2.0 body -> 200 application/json (204 when the
//                    message held only notifications)
//   GET  /rpc        with Upgrade: websocket -> WebSocket; each text message
//                    is a request/batch, responses and server notifications
//                    (from the NotificationHub) are text messages
//   GET  /healthz    200 "ok\n" (503 "draining\n" while shutting down)
//   GET  /metrics    Metrics::RenderPrometheus()
//   anything else    404; a known path with another method 405; a body over
//                    max_request_bytes 413 and the connection is closed.
//
// Limits against bad clients: max connections (extra ones are closed at
// accept), per-connection in-flight requests (reading pauses at the limit,
// so a client that does not read its responses stops being read), idle,
// header, body and write timeouts, and a bounded WebSocket send queue (a
// subscriber that does not drain notifications is disconnected).
//
// Threads: io_threads network threads run every connection; each connection
// is bound to one strand. They never block: the dispatcher runs kWorker
// methods on its worker pool and the response is dispatched back to the
// connection's strand. Inline methods complete without any extra posting.
//
// Shutdown(): stop accepting, answer new requests with 503 (WebSocket: stop
// reading), close deps.gate, wait (up to drain_timeout) until every request
// already read has been answered and written, close all connections, stop
// the network threads. A connection holds one token of deps.gate while it has
// requests in flight, so the gate drains exactly when the responses are out.
//
// Lifetime: after Shutdown(), shut the dispatcher's WorkerPool down before
// destroying the Server (a late worker completion posts to the Server's
// io_context); destroy the Server before the Gate, Metrics, hub and
// dispatcher it was given.
//
// Thread-safety: Start/Shutdown must be called from one controlling thread
// (not a network thread). Stats() and the accessors may be called from any
// thread once Start() has returned.
#ifndef SANPOOL_AGENT_SERVER_H_
#define SANPOOL_AGENT_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace sanpool {
class Gate;
}  // namespace sanpool

namespace sanpool::agent {

class Metrics;
class NotificationHub;
class RpcDispatcher;

enum class TlsMode { kMutualTls, kPlain };

struct ServerOptions {
  // TCP listener address; empty = no TCP listener. Port 0 = ephemeral.
  std::string host = "127.0.0.1";
  uint16_t port = 54321;
  TlsMode tls = TlsMode::kMutualTls;
  // PEM files for kMutualTls.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Unix socket path; empty = none.
  std::string unix_socket;

  int io_threads = 1;
  size_t max_connections = 1000;
  size_t max_request_bytes = 1 << 20;
  size_t max_in_flight_per_connection = 64;
  // Bytes queued for one WebSocket client before it is dropped as too slow.
  size_t max_ws_queue_bytes = 8 << 20;

  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};
  // Time to receive a whole request header once its first byte arrived, and
  // the TLS / WebSocket handshakes.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};
  // A response (or WebSocket message) not written within this is a stuck
  // client: the connection is closed.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
};

// Collaborators; all must outlive the Server.
struct ServerDeps {
  RpcDispatcher* dispatcher = nullptr;       // required
  Metrics* metrics = nullptr;                // required
  NotificationHub* notifications = nullptr;  // optional
  Gate* gate = nullptr;                      // required
};

// One bound listener, for "listening" logs and tests.
struct BoundAddress {
  std::string transport;  // "tls", "tcp" or "unix"
  std::string address;    // "127.0.0.1:54321", "[::1]:5", "/run/sanpool/agent.sock"
  uint16_t port = 0;      // 0 for unix
};

struct ServerStats {
  int64_t connections = 0;  // open now, all transports
  uint64_t accepted = 0;    // since start
  uint64_t rejected = 0;    // closed at accept: over max_connections
  int64_t in_flight = 0;    // requests read whose response is not written yet
};

class Server {
 public:
  // REQUIRES: deps.dispatcher, deps.metrics, deps.gate non-null.
  Server(ServerOptions options, ServerDeps deps);
  // Calls Shutdown() if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates options, loads TLS material, binds every listener and starts
  // the network threads. On error nothing keeps running. Errors:
  // kInvalidArgument (bad option, missing/unreadable/invalid TLS files),
  // kFailedPrecondition (plain TCP on a non-loopback address; a non-socket
  // file or a live agent at the Unix socket path), errno-derived codes from
  // bind/listen (kUnavailable for EADDRINUSE is not special-cased: it maps
  // through ErrnoToStatus).
  // REQUIRES: called once.
  Status Start();

  // The listeners actually bound (after Start()).
  const std::vector<BoundAddress>& addresses() const;
  // The TCP port bound, 0 if there is no TCP listener.
  uint16_t tcp_port() const;

  ServerStats Stats() const;

  // Graceful stop as described above. Blocks up to about
  // 2 * drain_timeout. Idempotent. REQUIRES: not on a network thread.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_SERVER_H_
