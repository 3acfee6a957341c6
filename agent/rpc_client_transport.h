// ClientConnection: the byte-moving half of RpcClient (agent/rpc_client.h).
//
// One connection to the agent over a Unix socket, plain TCP or TCP+TLS, used
// either for HTTP/1.1 exchanges or, after Open() with Protocol::kWebSocket,
// as a WebSocket on "/rpc". Implemented with Boost.Beast in
// rpc_client_transport.cc; this header stays Beast-free.
//
// Every blocking operation takes an absolute deadline. When an HTTP exchange
// or a WebSocket write misses it, the connection is closed and usable()
// turns false. A WebSocket read that misses its deadline stays pending: the
// next WsRead() continues it, so no message is lost and the connection
// remains usable.
//
// Thread-safety: not synchronised; one thread at a time.
#ifndef SANPOOL_AGENT_RPC_CLIENT_TRANSPORT_H_
#define SANPOOL_AGENT_RPC_CLIENT_TRANSPORT_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "agent/rpc_client.h"
#include "base/status.h"

namespace sanpool::agent {

class ClientConnection {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // Connects (resolve, connect, TLS handshake with the agent's certificate
  // verified against tls.ca_file and server_name) and, for kWebSocket,
  // upgrades on "/rpc". Errors as documented in agent/rpc_client.h.
  static Result<std::unique_ptr<ClientConnection>> Open(const ClientOptions& options,
                                                        Deadline deadline);

  virtual ~ClientConnection() = default;

  // False after a transport error, a missed deadline, or an HTTP answer with
  // "Connection: close".
  virtual bool usable() const = 0;
  // After a failed Http(): true when the connection was found closed before
  // any byte of the answer arrived (a kept-alive connection the agent closed;
  // the request can be retried on a new connection).
  virtual bool failed_before_answer() const = 0;

  // HTTP/1.1 exchange; body sent as application/json when not empty.
  virtual Result<HttpReply> Http(std::string_view verb, std::string_view target,
                                 std::string_view body, Deadline deadline) = 0;

  // WebSocket text messages. REQUIRES: opened with Protocol::kWebSocket.
  virtual Status WsWrite(std::string_view text, Deadline deadline) = 0;
  virtual Result<std::string> WsRead(Deadline deadline) = 0;
};

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_RPC_CLIENT_TRANSPORT_H_
