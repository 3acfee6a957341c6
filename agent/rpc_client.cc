#include "agent/rpc_client.h"

#include <charconv>
#include <utility>

#include <boost/json.hpp>

#include "agent/rpc_client_transport.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// HTTP statuses other than 200/204 from POST /rpc become a Status.
Status HttpStatusError(const HttpReply& reply) {
  std::string message = "agent answered HTTP " + std::to_string(reply.status);
  if (!reply.body.empty() && reply.body.size() < 200) message += ": " + reply.body;
  Status status = reply.status == 413 ? ResourceExhaustedError(std::move(message))
                                      : UnavailableError(std::move(message));
  return std::move(status).WithDetail("http_status", std::to_string(reply.status));
}

// A WebSocket message is a notification when it is an object with "method"
// and no "id" (the agent never sends requests).
bool IsNotification(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  const json::object& o = v.get_object();
  return o.contains("method") && !o.contains("id");
}

// True for a response object whose id is a number other than `id`: the late
// answer to an earlier call that timed out.
bool AnswersOtherId(std::string_view text, int64_t id) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  const json::value* got = v.get_object().if_contains("id");
  return got != nullptr && got->is_int64() && got->get_int64() != id;
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint e;
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.starts_with("/")) {
    e.kind = Endpoint::Kind::kUnix;
    e.unix_path = std::string(text);
    return e;
  }
  std::string_view rest;
  if (text.starts_with("https://")) {
    e.kind = Endpoint::Kind::kTls;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    e.kind = Endpoint::Kind::kTcp;
    rest = text.substr(7);
  } else {
    return InvalidArgumentError("endpoint '" + std::string(text) +
                                "': expected https://, http://, unix: or a path");
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    if (path != "/" && path != "/rpc") {
      return InvalidArgumentError("endpoint '" + std::string(text) + "': unexpected path");
    }
    rest = rest.substr(0, slash);
  }
  std::string_view port_text;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgumentError("endpoint '" + std::string(text) + "': unclosed '['");
    }
    e.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(":")) {
        return InvalidArgumentError("endpoint '" + std::string(text) + "': junk after ']'");
      }
      port_text = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    e.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  } else {
    e.host = std::string(rest);
  }
  if (e.host.empty()) {
    return InvalidArgumentError("endpoint '" + std::string(text) + "': no host");
  }
  e.port = kDefaultPort;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return InvalidArgumentError("endpoint '" + std::string(text) + "': bad port");
    }
    e.port = static_cast<uint16_t>(port);
  }
  return e;
}

std::string EndpointToString(const Endpoint& e) {
  if (e.kind == Endpoint::Kind::kUnix) return "unix:" + e.unix_path;
  std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  return std::string(e.kind == Endpoint::Kind::kTls ? "https://" : "http://") + host + ":" +
         std::to_string(e.port);
}

std::string BuildRpcRequest(std::string_view method, const json::value& params,
                            std::optional<int64_t> id) {
  json::object req;
  req["jsonrpc"] = "2.0";
  if (id) req["id"] = *id;
  req["method"] = method;
  if (!params.is_null()) req["params"] = params;
  return json::serialize(req);
}

Result<RpcReply> ParseRpcReply(std::string text, int64_t expected_id) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return UnknownError("answer is not JSON: " + ec.message());
  if (!v.is_object()) return UnknownError("answer is not a JSON-RPC response object");
  const json::object& o = v.get_object();
  const json::value* id = o.if_contains("id");
  const json::value* error = o.if_contains("error");
  const json::value* result = o.if_contains("result");
  RpcReply reply;
  if (error != nullptr && error->is_object()) {
    // An error may carry id null (the agent could not read ours).
    if (id != nullptr && !id->is_null() &&
        !(id->is_int64() && id->get_int64() == expected_id)) {
      return UnknownError("answer for another request id");
    }
    const json::object& e = error->get_object();
    RpcError err;
    if (const json::value* c = e.if_contains("code"); c && c->is_int64()) {
      err.code = c->get_int64();
    } else {
      return UnknownError("error object without an integer code");
    }
    if (const json::value* m = e.if_contains("message"); m && m->is_string()) {
      err.message = std::string(m->get_string());
    }
    if (const json::value* d = e.if_contains("data")) err.data = *d;
    reply.error = std::move(err);
  } else if (result != nullptr) {
    if (id == nullptr || !id->is_int64() || id->get_int64() != expected_id) {
      return UnknownError("answer for another request id");
    }
    reply.result = *result;
  } else {
    return UnknownError("answer has neither result nor error");
  }
  reply.raw = std::move(text);
  return reply;
}

RpcClient::RpcClient(ClientOptions options, std::unique_ptr<ClientConnection> conn)
    : options_(std::move(options)), conn_(std::move(conn)) {}

RpcClient::~RpcClient() = default;

Result<std::unique_ptr<RpcClient>> RpcClient::Connect(ClientOptions options) {
  ASSIGN_OR_RETURN(auto conn,
                   ClientConnection::Open(options, Clock::now() + options.connect_timeout));
  return std::unique_ptr<RpcClient>(new RpcClient(std::move(options), std::move(conn)));
}

Status RpcClient::EnsureConnected() {
  if (conn_ && conn_->usable()) return Status();
  if (options_.protocol == Protocol::kWebSocket && conn_) {
    return UnavailableError("WebSocket connection lost");
  }
  conn_.reset();
  ASSIGN_OR_RETURN(conn_,
                   ClientConnection::Open(options_, Clock::now() + options_.connect_timeout));
  return Status();
}

Result<HttpReply> RpcClient::PostRpc(std::string_view body) {
  for (int attempt = 0;; ++attempt) {
    bool reused = conn_ && conn_->usable();
    RETURN_IF_ERROR(EnsureConnected());
    Result<HttpReply> reply =
        conn_->Http("POST", "/rpc", body, Clock::now() + options_.request_timeout);
    if (reply.ok() || attempt > 0 || !reused || !conn_->failed_before_answer()) {
      return reply;
    }
  }
}

Result<RpcReply> RpcClient::Call(std::string_view method, const json::value& params) {
  int64_t id = next_id_++;
  std::string request = BuildRpcRequest(method, params, id);
  if (options_.protocol == Protocol::kHttp) {
    ASSIGN_OR_RETURN(HttpReply http, PostRpc(request));
    if (http.status != 200) return HttpStatusError(http);
    return ParseRpcReply(std::move(http.body), id);
  }
  RETURN_IF_ERROR(EnsureConnected());
  Clock::time_point deadline = Clock::now() + options_.request_timeout;
  RETURN_IF_ERROR(conn_->WsWrite(request, deadline));
  while (true) {
    ASSIGN_OR_RETURN(std::string text, ReadWsAnswer(deadline));
    if (!AnswersOtherId(text, id)) return ParseRpcReply(std::move(text), id);
  }
}

Status RpcClient::Notify(std::string_view method, const json::value& params) {
  std::string request = BuildRpcRequest(method, params, std::nullopt);
  if (options_.protocol == Protocol::kWebSocket) return SendRawNoReply(request);
  ASSIGN_OR_RETURN(HttpReply http, PostRpc(request));
  if (http.status != 204) return HttpStatusError(http);
  return Status();
}

Result<std::string> RpcClient::SendRaw(std::string_view payload) {
  if (options_.protocol == Protocol::kHttp) {
    ASSIGN_OR_RETURN(HttpReply http, PostRpc(payload));
    if (http.status == 204) return std::string();
    if (http.status != 200) return HttpStatusError(http);
    return std::move(http.body);
  }
  RETURN_IF_ERROR(EnsureConnected());
  Clock::time_point deadline = Clock::now() + options_.request_timeout;
  RETURN_IF_ERROR(conn_->WsWrite(payload, deadline));
  return ReadWsAnswer(deadline);
}

Status RpcClient::SendRawNoReply(std::string_view payload) {
  if (options_.protocol != Protocol::kWebSocket) {
    return FailedPreconditionError("SendRawNoReply needs a WebSocket client");
  }
  RETURN_IF_ERROR(EnsureConnected());
  return conn_->WsWrite(payload, Clock::now() + options_.request_timeout);
}

Result<std::string> RpcClient::ReadWsAnswer(Clock::time_point deadline) {
  while (true) {
    ASSIGN_OR_RETURN(std::string text, conn_->WsRead(deadline));
    if (!IsNotification(text)) return text;
    notifications_.push_back(std::move(text));
  }
}

Result<std::string> RpcClient::NextNotification(std::chrono::milliseconds timeout) {
  if (options_.protocol != Protocol::kWebSocket) {
    return FailedPreconditionError("notifications need a WebSocket client");
  }
  if (!notifications_.empty()) {
    std::string text = std::move(notifications_.front());
    notifications_.pop_front();
    return text;
  }
  RETURN_IF_ERROR(EnsureConnected());
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    ASSIGN_OR_RETURN(std::string text, conn_->WsRead(deadline));
    if (IsNotification(text)) return text;
    // A stray answer to a call that already timed out: drop it.
  }
}

Result<HttpReply> RpcClient::Http(std::string_view verb, std::string_view target,
                                  std::string_view body) {
  if (options_.protocol != Protocol::kHttp) {
    return FailedPreconditionError("Http() needs an HTTP client");
  }
  RETURN_IF_ERROR(EnsureConnected());
  return conn_->Http(verb, target, body, Clock::now() + options_.request_timeout);
}

}  // namespace sanpool::agent
