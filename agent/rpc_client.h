// RpcClient: a small synchronous JSON-RPC 2.0 client for the sanpool agent.
//
// It speaks the agent's wire protocol (doc/api.md, agent/server.h): JSON-RPC
// over HTTP/1.1 keep-alive (`POST /rpc`) or over a WebSocket on `/rpc`, on one
// of three transports: the local Unix socket (no TLS), plain TCP, or TCP with
// mutual TLS (CA file to verify the agent, certificate + key to present).
//
//   ASSIGN_OR_RETURN(auto client, RpcClient::Connect(options));
//   ASSIGN_OR_RETURN(RpcReply reply, client->Call("Host.ping", {}));
//   if (!reply.ok()) ... reply.error->code ...
//
// This is the project's only client code: the `sanpool` CLI, the benchmarks'
// set-up and the tests use it.
//
// Errors. A call that reaches the agent and gets a well-formed JSON-RPC reply
// returns OK with an RpcReply, which may carry a JSON-RPC error object: that
// is the agent's answer, not a failure of the client. A Status is returned
// for failures to get an answer:
//   kInvalidArgument    bad options: unparsable endpoint, unreadable TLS files.
//   kUnavailable        cannot connect, TLS handshake refused, connection
//                       dropped, or the agent answered with an HTTP status
//                       other than 200/204 (detail `http_status`; 413 maps to
//                       kResourceExhausted instead).
//   kDeadlineExceeded   connect_timeout or request_timeout elapsed; the
//                       connection is closed (the next call reconnects).
//   kUnknown            the agent's answer is not valid JSON-RPC.
//
// Reconnection (HTTP only): when a kept-alive connection turns out to have
// been closed by the agent (idle timeout) before any byte of the answer
// arrived, the request is sent once more on a fresh connection. WebSocket
// clients never reconnect silently (they would miss notifications).
//
// Thread-safety: an RpcClient is not synchronised; use one per thread. All
// calls block the calling thread, each bounded by the configured timeouts.
#ifndef SANPOOL_AGENT_RPC_CLIENT_H_
#define SANPOOL_AGENT_RPC_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "base/status.h"

namespace sanpool::agent {

// Where the agent listens.
struct Endpoint {
  enum class Kind { kUnix, kTcp, kTls };
  Kind kind = Kind::kUnix;
  std::string unix_path;  // kUnix
  std::string host;       // kTcp, kTls: name or address (IPv6 without [])
  uint16_t port = 0;      // kTcp, kTls
};

inline constexpr std::string_view kDefaultUnixSocket = "/run/sanpool/agent.sock";
inline constexpr uint16_t kDefaultPort = 54321;

// Parses "unix:/path" or "/path" (Unix socket), "http://host[:port]" (plain
// TCP) and "https://host[:port]" (TLS); IPv6 hosts are bracketed
// ("https://[::1]:54321"); a missing port means kDefaultPort; a trailing "/"
// or "/rpc" is accepted. kInvalidArgument for anything else.
Result<Endpoint> ParseEndpoint(std::string_view text);
// The inverse: "unix:/run/...", "https://[::1]:54321".
std::string EndpointToString(const Endpoint& endpoint);

// Mutual TLS material, PEM files. An empty ca_file verifies the agent against
// the system's default trust store; empty cert_file/key_file present no client
// certificate (the agent refuses such clients; useful only in tests).
struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Name the agent's certificate must carry; empty means the endpoint's host.
  std::string server_name;
};

enum class Protocol { kHttp, kWebSocket };

struct ClientOptions {
  Endpoint endpoint;
  TlsFiles tls;  // used when endpoint.kind == kTls
  Protocol protocol = Protocol::kHttp;
  // Resolve + connect + TLS handshake (+ WebSocket upgrade).
  std::chrono::milliseconds connect_timeout{5000};
  // One request: write it and read its answer.
  std::chrono::milliseconds request_timeout{60000};
  // Larger answers fail the call with kResourceExhausted.
  size_t max_response_bytes = 64u << 20;
};

// A JSON-RPC error object as the agent sent it.
struct RpcError {
  int64_t code = 0;
  std::string message;
  boost::json::value data;  // null when absent
};

// The agent's answer to one call.
struct RpcReply {
  bool ok() const { return !error.has_value(); }
  boost::json::value result;     // when ok()
  std::optional<RpcError> error; // when !ok()
  std::string raw;               // the response text exactly as received
};

// One HTTP exchange's answer (Http()).
struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class ClientConnection;  // agent/rpc_client_transport.h

class RpcClient {
 public:
  // Connects to options.endpoint and, for Protocol::kWebSocket, upgrades the
  // connection on "/rpc". Blocks up to options.connect_timeout.
  static Result<std::unique_ptr<RpcClient>> Connect(ClientOptions options);

  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Calls `method` with `params` (an object, an array, or null to send no
  // params) and waits for the matching answer. On a WebSocket, notifications
  // that arrive meanwhile are queued for NextNotification().
  Result<RpcReply> Call(std::string_view method, const boost::json::value& params);

  // Sends a JSON-RPC notification (no id); no answer is expected. Over HTTP
  // the agent must answer 204.
  Status Notify(std::string_view method, const boost::json::value& params);

  // Sends `payload` verbatim (a request, a batch, or anything at all) as one
  // HTTP body or one WebSocket message and returns the answer text: the HTTP
  // body, "" for HTTP 204, or the next WebSocket message that is not a
  // notification. On a WebSocket, do not send notification-only payloads this
  // way (no answer would come); use SendRawNoReply().
  Result<std::string> SendRaw(std::string_view payload);
  // WebSocket only: sends `payload` and does not wait.
  Status SendRawNoReply(std::string_view payload);

  // WebSocket only: returns the next server notification's text, queued or
  // read from the connection, waiting up to `timeout` (kDeadlineExceeded when
  // none came; the connection stays usable).
  Result<std::string> NextNotification(std::chrono::milliseconds timeout);

  // HTTP only: one arbitrary request, e.g. ("GET", "/metrics", ""). Any HTTP
  // status is returned as is (no status-to-Status mapping).
  Result<HttpReply> Http(std::string_view verb, std::string_view target,
                         std::string_view body);

  const ClientOptions& options() const { return options_; }

 private:
  RpcClient(ClientOptions options, std::unique_ptr<ClientConnection> conn);

  // HTTP POST /rpc with one reconnect on a stale kept-alive connection.
  Result<HttpReply> PostRpc(std::string_view body);
  Status EnsureConnected();
  // Reads WebSocket messages until one that is not a notification arrives.
  Result<std::string> ReadWsAnswer(std::chrono::steady_clock::time_point deadline);

  ClientOptions options_;
  std::unique_ptr<ClientConnection> conn_;
  int64_t next_id_ = 1;
  std::deque<std::string> notifications_;
};

// Parses a JSON-RPC response object and checks its id. kUnknown when `text`
// is not a response to `expected_id`.
Result<RpcReply> ParseRpcReply(std::string text, int64_t expected_id);

// Serialises {"jsonrpc":"2.0","id":id,"method":method,"params":params}; the
// id is left out when absent (a notification), params when null.
std::string BuildRpcRequest(std::string_view method, const boost::json::value& params,
                            std::optional<int64_t> id);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_RPC_CLIENT_H_
