// WebSocket sessions of the agent's server (internal; see server.h). Each
// text (or binary) message is one JSON-RPC request or batch; responses and
// notifications from the NotificationHub go out as text messages through a
// bounded send queue. Reading pauses while max_in_flight_per_connection
// requests are unanswered.
#ifndef SANPOOL_AGENT_WS_SESSION_H_
#define SANPOOL_AGENT_WS_SESSION_H_

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "agent/server_state.h"

namespace sanpool::agent {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Takes over a connection whose HTTP session read an upgrade request for
// /rpc: answers the handshake and serves messages until the connection ends.
// REQUIRES: no operation pending on `stream`; called on its strand.
void StartWsSession(TlsStream&& stream, ConnectionSlot slot, HttpRequest req);
void StartWsSession(TcpStream&& stream, ConnectionSlot slot, HttpRequest req);
void StartWsSession(UnixStream&& stream, ConnectionSlot slot, HttpRequest req);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_WS_SESSION_H_
