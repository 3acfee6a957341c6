#include "agent/rpc_client_transport.h"

#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "agent/rpc_client_tls.h"

namespace sanpool::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol::socket;
using tls_socket = asio::ssl::stream<tcp::socket>;
using Deadline = ClientConnection::Deadline;

constexpr std::string_view kUserAgent = "sanpool-client/1";

bool IsStaleConnectionError(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

// One connection; Stream is unix_socket, tcp::socket or tls_socket. The
// WebSocket stream owns the byte stream for both modes: HTTP exchanges use
// its next layer directly until (unless) the upgrade.
template <class Stream>
class StreamConnection final : public ClientConnection {
 public:
  template <class... Args>
  explicit StreamConnection(ClientOptions options, Args&&... stream_args)
      : options_(std::move(options)), ws_(ioc_, std::forward<Args>(stream_args)...) {}

  ~StreamConnection() override { Close(); }

  Status Open(Deadline deadline) {
    if constexpr (std::is_same_v<Stream, unix_socket>) {
      RETURN_IF_ERROR(Run(
          [&](auto handler) {
            Socket().async_connect(
                asio::local::stream_protocol::endpoint(options_.endpoint.unix_path),
                handler);
          },
          deadline, "connect " + options_.endpoint.unix_path));
    } else {
      RETURN_IF_ERROR(ConnectTcp(deadline));
    }
    if constexpr (std::is_same_v<Stream, tls_socket>) {
      RETURN_IF_ERROR(Run(
          [&](auto handler) {
            ws_.next_layer().async_handshake(asio::ssl::stream_base::client, handler);
          },
          deadline, "TLS handshake with " + EndpointToString(options_.endpoint)));
    }
    usable_ = true;
    if (options_.protocol == Protocol::kWebSocket) {
      ws_.read_message_max(options_.max_response_bytes);
      ws_.set_option(websocket::stream_base::decorator(
          [](websocket::request_type& req) {
            req.set(http::field::user_agent, kUserAgent);
          }));
      std::string host = HostHeader();
      RETURN_IF_ERROR(Run(
          [&](auto handler) { ws_.async_handshake(host, "/rpc", handler); },
          deadline, "WebSocket upgrade"));
    }
    return Status();
  }

  bool usable() const override { return usable_; }
  bool failed_before_answer() const override { return failed_before_answer_; }

  Result<HttpReply> Http(std::string_view verb, std::string_view target,
                         std::string_view body, Deadline deadline) override {
    failed_before_answer_ = false;
    http::request<http::string_body> req;
    req.method(http::string_to_verb(verb));
    if (req.method() == http::verb::unknown) {
      return InvalidArgumentError("unknown HTTP method " + std::string(verb));
    }
    req.method_string(verb);
    req.target(target);
    req.version(11);
    req.set(http::field::host, HostHeader());
    req.set(http::field::user_agent, kUserAgent);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
    req.keep_alive(true);
    req.prepare_payload();

    error_code ec;
    Status status = Run(
        [&](auto handler) { http::async_write(ws_.next_layer(), req, handler); },
        deadline, "send request", &ec);
    if (!status.ok()) {
      failed_before_answer_ = IsStaleConnectionError(ec);
      return status;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    status = Run(
        [&](auto handler) {
          http::async_read(ws_.next_layer(), buffer_, parser, handler);
        },
        deadline, "read answer", &ec);
    if (!status.ok()) {
      failed_before_answer_ = IsStaleConnectionError(ec) && !parser.got_some();
      if (ec == http::error::body_limit) {
        return ResourceExhaustedError("answer larger than " +
                                      std::to_string(options_.max_response_bytes) +
                                      " bytes");
      }
      return status;
    }
    http::response<http::string_body> res = parser.release();
    if (!res.keep_alive()) Close();
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.content_type = std::string(res[http::field::content_type]);
    reply.body = std::move(res.body());
    return reply;
  }

  Status WsWrite(std::string_view text, Deadline deadline) override {
    ws_.text(true);
    return Run(
        [&](auto handler) { ws_.async_write(asio::buffer(text.data(), text.size()), handler); },
        deadline, "send WebSocket message");
  }

  Result<std::string> WsRead(Deadline deadline) override {
    if (!usable_) return UnavailableError("connection closed");
    if (!read_pending_) {
      read_pending_ = true;
      read_done_ = false;
      ws_.async_read(ws_buffer_, [this](error_code ec, size_t) {
        read_ec_ = ec;
        read_done_ = true;
      });
    }
    if (!RunUntil(read_done_, deadline)) {
      return DeadlineExceededError("no WebSocket message before the deadline");
    }
    read_pending_ = false;
    if (read_ec_) {
      usable_ = false;
      if (read_ec_ == websocket::error::closed) {
        return UnavailableError("agent closed the WebSocket");
      }
      return UnavailableError("read WebSocket message: " + read_ec_.message());
    }
    std::string text = beast::buffers_to_string(ws_buffer_.data());
    ws_buffer_.consume(ws_buffer_.size());
    return text;
  }

 private:
  auto& Socket() { return beast::get_lowest_layer(ws_); }

  std::string HostHeader() const {
    const Endpoint& e = options_.endpoint;
    if (e.kind == Endpoint::Kind::kUnix) return "localhost";
    std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
    return host + ":" + std::to_string(e.port);
  }

  Status ConnectTcp(Deadline deadline) {
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type results;
    const Endpoint& e = options_.endpoint;
    RETURN_IF_ERROR(Run(
        [&](auto handler) {
          resolver.async_resolve(e.host, std::to_string(e.port),
                                 [&results, handler](error_code ec,
                                                     tcp::resolver::results_type r) mutable {
                                   results = std::move(r);
                                   handler(ec);
                                 });
        },
        deadline, "resolve " + e.host));
    RETURN_IF_ERROR(Run(
        [&](auto handler) {
          asio::async_connect(Socket(), results,
                              [handler](error_code ec, const tcp::endpoint&) mutable {
                                handler(ec);
                              });
        },
        deadline, "connect " + EndpointToString(e)));
    error_code ignored;
    Socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (std::is_same_v<Stream, tls_socket>) {
      const std::string& name =
          options_.tls.server_name.empty() ? e.host : options_.tls.server_name;
      // SNI only for names, not for literal addresses (RFC 6066).
      error_code addr_ec;
      asio::ip::make_address(name, addr_ec);
      if (addr_ec &&
          !SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), name.c_str())) {
        return InternalError("cannot set TLS server name");
      }
      ws_.next_layer().set_verify_callback(asio::ssl::host_name_verification(name));
    }
    return Status();
  }

  // Runs the io_context until `done` or the deadline; false on deadline.
  bool RunUntil(const bool& done, Deadline deadline) {
    ioc_.restart();
    while (!done) {
      if (ioc_.run_one_until(deadline) == 0) {
        if (done) break;
        if (std::chrono::steady_clock::now() >= deadline || ioc_.stopped()) return false;
      }
    }
    return true;
  }

  // Starts one asynchronous operation (start(handler), handler(error_code,
  // ...)) and waits for it. On the deadline the socket is closed, which
  // aborts the operation; the connection is then unusable.
  template <class Start>
  Status Run(Start&& start, Deadline deadline, const std::string& what,
             error_code* ec_out = nullptr) {
    error_code result;
    bool done = false;
    start([&result, &done](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    if (!RunUntil(done, deadline)) {
      Close();
      ioc_.restart();
      while (!done && ioc_.run_one() > 0) {
      }
      if (ec_out) *ec_out = asio::error::timed_out;
      return DeadlineExceededError(what + ": timed out");
    }
    if (ec_out) *ec_out = result;
    if (result) {
      Close();
      return UnavailableError(what + ": " + result.message());
    }
    return Status();
  }

  void Close() {
    usable_ = false;
    error_code ignored;
    Socket().shutdown(asio::socket_base::shutdown_both, ignored);
    Socket().close(ignored);
  }

  ClientOptions options_;
  asio::io_context ioc_{1};
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  beast::flat_buffer ws_buffer_;
  bool usable_ = false;
  bool failed_before_answer_ = false;
  bool read_pending_ = false;
  bool read_done_ = false;
  error_code read_ec_;
};

// Holds the TLS context the stream refers to; destroyed after the stream.
class TlsConnection final : public ClientConnection {
 public:
  TlsConnection(std::unique_ptr<asio::ssl::context> ctx, const ClientOptions& options)
      : ctx_(std::move(ctx)), conn_(options, *ctx_) {}

  Status Open(Deadline deadline) { return conn_.Open(deadline); }
  bool usable() const override { return conn_.usable(); }
  bool failed_before_answer() const override { return conn_.failed_before_answer(); }
  Result<HttpReply> Http(std::string_view verb, std::string_view target,
                         std::string_view body, Deadline deadline) override {
    return conn_.Http(verb, target, body, deadline);
  }
  Status WsWrite(std::string_view text, Deadline deadline) override {
    return conn_.WsWrite(text, deadline);
  }
  Result<std::string> WsRead(Deadline deadline) override { return conn_.WsRead(deadline); }

 private:
  std::unique_ptr<asio::ssl::context> ctx_;
  StreamConnection<tls_socket> conn_;
};

}  // namespace

Result<std::unique_ptr<asio::ssl::context>> MakeClientTlsContext(const TlsFiles& files) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  error_code ec;
  if (files.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(files.ca_file, ec);
  }
  if (ec) return InvalidArgumentError("CA file " + files.ca_file + ": " + ec.message());
  if (!files.cert_file.empty()) {
    ctx->use_certificate_chain_file(files.cert_file, ec);
    if (ec) {
      return InvalidArgumentError("certificate file " + files.cert_file + ": " + ec.message());
    }
    const std::string& key = files.key_file.empty() ? files.cert_file : files.key_file;
    ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
    if (ec) return InvalidArgumentError("key file " + key + ": " + ec.message());
  }
  return ctx;
}

Result<std::unique_ptr<ClientConnection>> ClientConnection::Open(const ClientOptions& options,
                                                                 Deadline deadline) {
  switch (options.endpoint.kind) {
    case Endpoint::Kind::kUnix: {
      auto conn = std::make_unique<StreamConnection<unix_socket>>(options);
      RETURN_IF_ERROR(conn->Open(deadline));
      return std::unique_ptr<ClientConnection>(std::move(conn));
    }
    case Endpoint::Kind::kTcp: {
      auto conn = std::make_unique<StreamConnection<tcp::socket>>(options);
      RETURN_IF_ERROR(conn->Open(deadline));
      return std::unique_ptr<ClientConnection>(std::move(conn));
    }
    case Endpoint::Kind::kTls: {
      ASSIGN_OR_RETURN(auto ctx, MakeClientTlsContext(options.tls));
      auto conn = std::make_unique<TlsConnection>(std::move(ctx), options);
      RETURN_IF_ERROR(conn->Open(deadline));
      return std::unique_ptr<ClientConnection>(std::move(conn));
    }
  }
  return InternalError("unknown endpoint kind");
}

}  // namespace sanpool::agent
