// Client-side TLS context for talking to the agent (mutual TLS).
//
// Includes Asio's SSL headers: include it only from transport code
// (agent/rpc_client_transport.cc, bench/).
#ifndef SANPOOL_AGENT_RPC_CLIENT_TLS_H_
#define SANPOOL_AGENT_RPC_CLIENT_TLS_H_

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "agent/rpc_client.h"
#include "base/status.h"

namespace sanpool::agent {

// A TLS 1.2+ client context that verifies the peer against files.ca_file (or
// the default trust store when empty) and presents files.cert_file/key_file
// when given. kInvalidArgument (naming the file) when a file cannot be
// loaded or the key does not match the certificate. The agent's host name is
// checked per connection (SNI + host_name_verification), not here.
Result<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const TlsFiles& files);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_RPC_CLIENT_TLS_H_
