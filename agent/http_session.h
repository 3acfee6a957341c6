// HTTP/1.1 sessions of the agent's server (internal; see server.h for the
// protocol). One session per accepted connection: it owns the stream, runs
// on the connection's strand, reads requests (pipelined up to
// max_in_flight_per_connection), answers them in order, and hands the stream
// to a WebSocket session on an upgrade of /rpc.
#ifndef SANPOOL_AGENT_HTTP_SESSION_H_
#define SANPOOL_AGENT_HTTP_SESSION_H_

#include "agent/server_state.h"

namespace sanpool::agent {

// Starts serving an accepted connection (TLS: the handshake comes first).
// The session keeps itself alive until the connection ends.
void StartHttpSession(TlsStream stream, ConnectionSlot slot);
void StartHttpSession(TcpStream stream, ConnectionSlot slot);
void StartHttpSession(UnixStream stream, ConnectionSlot slot);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_HTTP_SESSION_H_
