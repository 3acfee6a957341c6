// Internals shared by the server's listeners and sessions (not a public API;
// only agent/server.cc, listener.cc, http_session.cc, ws_session.cc include
// it). Holds the stream types, the state every connection shares, and the
// registry used to drain and close connections at shutdown.
#ifndef SANPOOL_AGENT_SERVER_STATE_H_
#define SANPOOL_AGENT_SERVER_STATE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "agent/server.h"
#include "base/gate.h"
#include "base/thread_annotations.h"

namespace sanpool::agent {

using TcpStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using UnixStream =
    boost::beast::basic_stream<boost::asio::local::stream_protocol>;

// A live connection as the shutdown code sees it.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Thread-safe (posts to the session's strand): stop reading new requests,
  // finish writing what is in flight, then close.
  virtual void Drain() = 0;
  // Thread-safe: close the socket now.
  virtual void Abort() = 0;
};

// Shared by the Server, its listeners and all sessions (sessions hold a
// shared_ptr so late worker completions never touch freed state).
class ServerState {
 public:
  ServerState(ServerOptions options, ServerDeps deps)
      : options(std::move(options)), deps(deps) {}

  const ServerOptions options;
  const ServerDeps deps;

  // Set once by Shutdown(); new requests get 503 from then on.
  std::atomic<bool> draining{false};
  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<int64_t> in_flight{0};

  // Registry of live sessions. Register returns an id for Unregister.
  uint64_t Register(std::weak_ptr<SessionBase> session) EXCLUDES(mu_);
  void Unregister(uint64_t id) EXCLUDES(mu_);
  // Calls Drain() / Abort() on every live session.
  void DrainAll() EXCLUDES(mu_);
  void AbortAll() EXCLUDES(mu_);
  // Waits until no session is registered; false on timeout.
  bool WaitNoSessionsFor(std::chrono::milliseconds timeout) EXCLUDES(mu_);
  size_t SessionCount() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  CondVar empty_;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions_
      GUARDED_BY(mu_);
};

// Counts one accepted connection (server stats and metrics) for as long as
// it lives; moved from the HTTP session to the WebSocket session on upgrade.
// `transport` is the Metrics/CallContext label: "http", "ws" or "unix".
class ConnectionSlot {
 public:
  ConnectionSlot(std::shared_ptr<ServerState> state, std::string_view transport);
  ConnectionSlot(ConnectionSlot&& other) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ~ConnectionSlot();

  ServerState& state() const { return *state_; }
  const std::shared_ptr<ServerState>& shared_state() const { return state_; }
  std::string_view transport() const { return transport_; }
  // Moves the connection to another metrics label (HTTP -> WebSocket).
  void Relabel(std::string_view transport);

 private:
  std::shared_ptr<ServerState> state_;  // null when moved from
  std::string_view transport_;          // static string
};

// Holds the Gate token while a connection has requests in flight, and the
// per-server in-flight count. Used from the session's strand only.
class InFlight {
 public:
  explicit InFlight(ServerState& state) : state_(state) {}
  ~InFlight() { state_.in_flight -= count_; }
  // False when the gate is closed (the request must be refused).
  bool Add();
  void Remove();
  size_t count() const { return count_; }

 private:
  ServerState& state_;
  size_t count_ = 0;
  std::optional<Gate::Token> token_;
};

// The peer's address ("127.0.0.1:4711", "unix:pid=1,uid=0").
std::string PeerName(TlsStream& s);
std::string PeerName(TcpStream& s);
std::string PeerName(UnixStream& s);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_SERVER_STATE_H_
