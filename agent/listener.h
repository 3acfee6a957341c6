// Listeners of the agent's server (internal; see server.h): a TCP acceptor
// (TLS or plain) and a Unix socket acceptor. Each accepts on its own strand,
// hands every connection its own strand, enforces max_connections, and backs
// off briefly when accept fails for lack of file descriptors.
#ifndef SANPOOL_AGENT_LISTENER_H_
#define SANPOOL_AGENT_LISTENER_H_

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "agent/server_state.h"
#include "base/status.h"

namespace sanpool::agent {

class Listener {
 public:
  virtual ~Listener() = default;
  // Starts the accept loop. Call once.
  virtual void Start() = 0;
  // Stops accepting (asynchronously, on the listener's strand); a Unix
  // listener also removes its socket file. Thread-safe, idempotent.
  virtual void Stop() = 0;
  virtual const BoundAddress& address() const = 0;
};

// Binds host:port. `tls` null means plain TCP (the caller decides whether that
// is allowed). Errors: kInvalidArgument for a host that is neither an IP
// address nor resolvable; bind/listen errors through ErrnoToStatus.
Result<std::shared_ptr<Listener>> OpenTcpListener(
    boost::asio::io_context& ioc, std::shared_ptr<ServerState> state,
    const std::string& host, uint16_t port,
    std::shared_ptr<boost::asio::ssl::context> tls);

// Prepares the path (parent directory created 0755; a stale socket replaced,
// see server.h), binds, sets mode 0600, listens.
Result<std::shared_ptr<Listener>> OpenUnixListener(
    boost::asio::io_context& ioc, std::shared_ptr<ServerState> state,
    const std::string& path);

// True if `host` is an IP literal of a loopback address ("127.0.0.1", "::1",
// also "localhost").
bool IsLoopbackHost(const std::string& host);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_LISTENER_H_
