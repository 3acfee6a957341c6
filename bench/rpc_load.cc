#include "bench/rpc_load.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "agent/rpc_client_tls.h"

namespace sanpool::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = asio::ssl::stream<tcp::socket>;

// State shared by the clients of one run; touched only by the one thread.
struct Run {
  Run(asio::io_context& io, asio::ssl::context& tls) : ioc(io), ssl(tls), start_gate(io) {}

  asio::io_context& ioc;
  asio::ssl::context& ssl;
  const LoadSpec* spec = nullptr;
  tcp::resolver::results_type endpoints;
  std::string host;
  std::string http_request;  // the whole HTTP request, serialised once
  std::string ws_message;

  int ready = 0;       // clients connected (or failed to)
  int connected = 0;
  int running = 0;     // client coroutines not finished
  bool started = false;
  asio::steady_timer start_gate;  // cancelled when every client is ready
  Clock::time_point start;
  Clock::time_point end;
  Clock::time_point last_done;
  std::vector<int64_t> latencies_ns;
  uint64_t errors = 0;
  std::string first_error;

  void MarkReady() {
    if (++ready < spec->clients) return;
    started = true;
    start = Clock::now();
    end = start + spec->duration;
    last_done = start;
    start_gate.cancel();
  }

  void Failed(const std::exception& e) {
    ++errors;
    if (!first_error.empty()) return;
    auto* system_error = dynamic_cast<const boost::system::system_error*>(&e);
    first_error = system_error ? system_error->code().message() : e.what();
  }
};

bool Contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

asio::awaitable<void> Client(Run& run) {
  websocket::stream<TlsStream> ws(run.ioc, run.ssl);
  TlsStream& tls = ws.next_layer();
  const bool use_ws = run.spec->protocol == LoadProtocol::kWebSocket;
  bool ok = true;
  try {
    co_await asio::async_connect(beast::get_lowest_layer(ws), run.endpoints, use_awaitable);
    beast::get_lowest_layer(ws).set_option(tcp::no_delay(true));
    tls.set_verify_callback(asio::ssl::host_name_verification(run.spec->endpoint.host));
    co_await tls.async_handshake(asio::ssl::stream_base::client, use_awaitable);
    if (use_ws) {
      co_await ws.async_handshake(run.host, "/rpc", use_awaitable);
      ws.text(true);
    }
    ++run.connected;
  } catch (const std::exception& e) {
    run.Failed(e);
    ok = false;
  }
  run.MarkReady();
  if (ok && !run.started) {
    boost::system::error_code ec;  // operation_aborted: the gate opened
    co_await run.start_gate.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  beast::flat_buffer buffer;
  try {
    while (ok) {
      Clock::time_point t0 = Clock::now();
      if (t0 >= run.end) break;
      bool good = false;
      if (use_ws) {
        co_await ws.async_write(asio::buffer(run.ws_message), use_awaitable);
        // Skip server notifications (no "id").
        std::string_view text;
        do {
          buffer.clear();
          co_await ws.async_read(buffer, use_awaitable);
          text = std::string_view(static_cast<const char*>(buffer.data().data()),
                                  buffer.data().size());
        } while (!Contains(text, "\"id\""));
        good = Contains(text, "\"result\"");
      } else {
        co_await asio::async_write(tls, asio::buffer(run.http_request), use_awaitable);
        http::response<http::string_body> res;
        co_await http::async_read(tls, buffer, res, use_awaitable);
        good = res.result() == http::status::ok && Contains(res.body(), "\"result\"");
      }
      Clock::time_point t1 = Clock::now();
      if (good) {
        run.latencies_ns.push_back((t1 - t0).count());
      } else {
        ++run.errors;
      }
      run.last_done = std::max(run.last_done, t1);
    }
  } catch (const std::exception& e) {
    run.Failed(e);
  }
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws).close(ignored);
  --run.running;
}

asio::awaitable<void> Ticker(Run& run) {
  asio::steady_timer timer(run.ioc);
  while (run.running > 0) {
    timer.expires_after(run.spec->tick);
    co_await timer.async_wait(use_awaitable);
    if (run.spec->on_tick) run.spec->on_tick();
  }
}

double PercentileMs(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1e6;
}

}  // namespace

Result<LoadResult> RunLoad(const LoadSpec& spec) {
  if (spec.endpoint.kind != agent::Endpoint::Kind::kTls) {
    return InvalidArgumentError("the load generator speaks TLS only (https://)");
  }
  if (spec.clients <= 0) return InvalidArgumentError("clients must be positive");
  ASSIGN_OR_RETURN(auto ssl, agent::MakeClientTlsContext(spec.tls));
  asio::io_context ioc(1);
  Run run(ioc, *ssl);
  run.spec = &spec;
  run.start_gate.expires_at(Clock::time_point::max());
  boost::system::error_code ec;
  run.endpoints = tcp::resolver(ioc).resolve(spec.endpoint.host,
                                             std::to_string(spec.endpoint.port), ec);
  if (ec) return UnavailableError("resolve " + spec.endpoint.host + ": " + ec.message());
  run.host = agent::EndpointToString(spec.endpoint).substr(8);  // after "https://"
  run.ws_message = R"({"jsonrpc":"2.0","id":1,"method":")" + spec.method +
                   R"(","params":)" + spec.params_json + "}";
  run.http_request = "POST /rpc HTTP/1.1\r\nHost: " + run.host +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(run.ws_message.size()) + "\r\n\r\n" + run.ws_message;
  // Enough for ~200k req/s over the window without reallocating mid-run.
  run.latencies_ns.reserve(static_cast<size_t>(spec.duration.count()) * 200);

  run.running = spec.clients;
  for (int i = 0; i < spec.clients; ++i) asio::co_spawn(ioc, Client(run), asio::detached);
  asio::co_spawn(ioc, Ticker(run), asio::detached);
  ioc.run();

  if (run.connected == 0) {
    return UnavailableError("no client could connect: " + run.first_error);
  }
  std::sort(run.latencies_ns.begin(), run.latencies_ns.end());
  LoadResult result;
  result.requests = run.latencies_ns.size();
  result.errors = run.errors;
  result.seconds = std::chrono::duration<double>(run.last_done - run.start).count();
  if (result.seconds > 0) {
    result.requests_per_second = static_cast<double>(result.requests) / result.seconds;
  }
  result.p50_ms = PercentileMs(run.latencies_ns, 0.50);
  result.p99_ms = PercentileMs(run.latencies_ns, 0.99);
  result.max_ms = run.latencies_ns.empty()
                      ? 0
                      : static_cast<double>(run.latencies_ns.back()) / 1e6;
  return result;
}

}  // namespace sanpool::bench
