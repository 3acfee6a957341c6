// Server tests: a real Server in-process on port 0 (plain TCP, mutual TLS
// with certificates from tools::MakeCerts, Unix socket), driven by
// raw synchronous Beast clients.
#include "agent/server.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

#include "agent/host_methods.h"
#include "agent/method_registry.h"
#include "agent/metrics.h"
#include "agent/notifications.h"
#include "agent/rpc_dispatcher.h"
#include "agent/tls_context.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/gate.h"
#include "base/worker_pool.h"
#include "tools/certs/make_certs.h"

namespace sanpool::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

std::string Ping(int id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"Host.ping"})";
}

std::string Sleep(int id, int ms) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"Test.sleep","params":{"ms":)" + std::to_string(ms) +
         "}}";
}

http::request<http::string_body> Post(std::string body,
                                      std::string target = "/rpc") {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

http::request<http::string_body> Get(std::string target) {
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  return req;
}

json::value ParseJson(const std::string& text) { return json::parse(text); }

// A synchronous HTTP client over any stream.
template <class Stream>
class Client {
 public:
  template <class... Args>
  explicit Client(Args&&... args) : stream_(std::forward<Args>(args)...) {}

  Stream& stream() { return stream_; }

  void Send(http::request<http::string_body> req) { http::write(stream_, req); }

  Response Receive() {
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

  Response Call(http::request<http::string_body> req) {
    Send(std::move(req));
    return Receive();
  }

  // Reads until the peer closes; returns the error that ended the read.
  beast::error_code ReadUntilClosed() {
    beast::error_code ec;
    char buf[4096];
    while (!ec) stream_.read_some(asio::buffer(buf), ec);
    return ec;
  }

 private:
  Stream stream_;
  beast::flat_buffer buffer_;
};

class ServerFixture {
 public:
  ServerFixture() {
    char tmpl[] = "/tmp/sanpool-server-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    REQUIRE(RegisterHostMethods(registry_, {}).ok());
    REQUIRE(registry_
                .Register(MethodSpec{
                    .name = "Test.sleep",
                    .description = "Sleeps on a worker thread.",
                    .params = {ParamSpec{.name = "ms",
                                         .type = ParamType::kInt,
                                         .presence = Presence::kRequired,
                                         .description = "milliseconds",
                                         .min = 0,
                                         .max = 10000}},
                    .result_description = "the ms slept",
                    .execution = Execution::kWorker,
                    .handler = [](const json::object& params,
                                  const CallContext&) -> Result<json::value> {
                      int64_t ms = params.at("ms").as_int64();
                      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                      return json::value(ms);
                    },
                })
                .ok());
    metrics_ = std::make_unique<Metrics>(registry_.MethodNames());
    dispatcher_ = std::make_unique<RpcDispatcher>(registry_, *metrics_, pool_,
                                                  Limits{});
    options_.host = "127.0.0.1";
    options_.port = 0;
    options_.tls = TlsMode::kPlain;
  }

  ~ServerFixture() {
    if (server_) server_->Shutdown();
    pool_.Shutdown();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  ServerOptions& options() { return options_; }
  Server& server() { return *server_; }
  NotificationHub& hub() { return hub_; }
  const std::string& dir() const { return dir_; }

  Status TryStart() {
    server_ = std::make_unique<Server>(
        options_, ServerDeps{.dispatcher = dispatcher_.get(),
                             .metrics = metrics_.get(),
                             .notifications = &hub_,
                             .gate = &gate_});
    return server_->Start();
  }
  void Start() {
    Status s = TryStart();
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  void UseTls() {
    std::unique_ptr<Env> env = NewPosixEnv();
    Status made = tools::MakeCerts(*env, {.dir = dir_ + "/pki"});
    INFO(made.ToString());
    REQUIRE(made.ok());
    options_.tls = TlsMode::kMutualTls;
    options_.ca_file = dir_ + "/pki/ca.pem";
    options_.cert_file = dir_ + "/pki/host.pem";
    options_.key_file = dir_ + "/pki/host.key";
  }

  std::shared_ptr<asio::ssl::context> ClientTls(bool with_cert) {
    TlsPemFiles files{dir_ + "/pki/ca.pem", "", ""};
    if (with_cert) {
      files.cert_file = dir_ + "/pki/client.pem";
      files.key_file = dir_ + "/pki/client.key";
    }
    auto ctx = MakeTlsContext(files, TlsRole::kClient);
    REQUIRE(ctx.ok());
    return *ctx;
  }

  tcp::endpoint Endpoint() const {
    return tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                         server_->tcp_port());
  }

  Client<tcp::socket> Connect() {
    Client<tcp::socket> client(io_);
    client.stream().connect(Endpoint());
    return client;
  }

  asio::io_context& io() { return io_; }

 private:
  std::string dir_;
  asio::io_context io_;
  SystemClock clock_;
  Gate gate_;
  MethodRegistry registry_;
  std::unique_ptr<Metrics> metrics_;
  NotificationHub hub_{clock_};
  WorkerPool pool_{WorkerPoolOptions{.name = "test", .threads = 2, .max_queued = 16}};
  std::unique_ptr<RpcDispatcher> dispatcher_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
};

TEST_CASE_METHOD(ServerFixture, "POST /rpc answers several requests on one keep-alive connection",
                 "[server]") {
  Start();
  auto client = Connect();
  for (int id = 1; id <= 3; ++id) {
    Response res = client.Call(Post(Ping(id)));
    REQUIRE(res.result() == http::status::ok);
    CHECK(res[http::field::content_type] == "application/json");
    CHECK(res.keep_alive());
    json::value v = ParseJson(res.body());
    CHECK(v.at("id").as_int64() == id);
    CHECK(v.at("result").as_bool());
  }
  CHECK(server().Stats().connections == 1);
}

TEST_CASE_METHOD(ServerFixture, "pipelined requests are answered in request order",
                 "[server]") {
  Start();
  auto client = Connect();
  // A slow worker request first, then inline ones: responses keep the order.
  client.Send(Post(Sleep(1, 50)));
  client.Send(Post(Ping(2)));
  client.Send(Post(Ping(3)));
  for (int id = 1; id <= 3; ++id) {
    Response res = client.Receive();
    REQUIRE(res.result() == http::status::ok);
    CHECK(ParseJson(res.body()).at("id").as_int64() == id);
  }
}

TEST_CASE_METHOD(ServerFixture, "Expect: 100-continue gets an interim 100", "[server]") {
  Start();
  auto client = Connect();
  auto req = Post(Ping(4));
  req.set(http::field::expect, "100-continue");
  http::request_serializer<http::string_body> sr(req);
  http::write_header(client.stream(), sr);
  beast::flat_buffer buffer;
  http::response<http::empty_body> interim;
  http::read(client.stream(), buffer, interim);
  REQUIRE(interim.result() == http::status::continue_);
  http::write(client.stream(), sr);
  Response res;
  http::read(client.stream(), buffer, res);
  REQUIRE(res.result() == http::status::ok);
  CHECK(ParseJson(res.body()).at("id").as_int64() == 4);
}

TEST_CASE_METHOD(ServerFixture, "a notification-only body gets 204", "[server]") {
  Start();
  auto client = Connect();
  Response res =
      client.Call(Post(R"({"jsonrpc":"2.0","method":"Host.ping"})"));
  CHECK(res.result() == http::status::no_content);
  CHECK(res.body().empty());
}

TEST_CASE_METHOD(ServerFixture, "an oversized body gets 413 and the connection closes",
                 "[server]") {
  options().max_request_bytes = 1024;
  Start();
  auto client = Connect();
  Response res = client.Call(Post(std::string(4096, ' ') + Ping(1)));
  CHECK(res.result() == http::status::payload_too_large);
  CHECK_FALSE(res.keep_alive());
  CHECK(client.ReadUntilClosed() == asio::error::eof);
}

TEST_CASE_METHOD(ServerFixture, "unknown paths get 404, wrong methods 405", "[server]") {
  Start();
  auto client = Connect();
  CHECK(client.Call(Get("/nope")).result() == http::status::not_found);
  Response res = client.Call(Get("/rpc"));
  CHECK(res.result() == http::status::method_not_allowed);
  CHECK(res[http::field::allow] == "POST");
  CHECK(client.Call(Post("x", "/healthz")).result() ==
        http::status::method_not_allowed);
  // The connection survives all of these.
  CHECK(client.Call(Post(Ping(7))).result() == http::status::ok);
}

TEST_CASE_METHOD(ServerFixture, "GET /healthz and GET /metrics", "[server]") {
  Start();
  auto client = Connect();
  Response health = client.Call(Get("/healthz"));
  CHECK(health.result() == http::status::ok);
  CHECK(health.body() == "ok\n");

  REQUIRE(client.Call(Post(Ping(1))).result() == http::status::ok);
  Response metrics = client.Call(Get("/metrics"));
  REQUIRE(metrics.result() == http::status::ok);
  CHECK_THAT(metrics.body(), Catch::Contains("sanpool_rpc_requests_total"));
  CHECK_THAT(metrics.body(), Catch::Contains("Host.ping"));
}

TEST_CASE_METHOD(ServerFixture, "Host.getStats counts the open connection", "[server]") {
  Start();
  auto client = Connect();
  Response res = client.Call(
      Post(R"({"jsonrpc":"2.0","id":1,"method":"Host.getStats"})"));
  REQUIRE(res.result() == http::status::ok);
  json::value v = ParseJson(res.body());
  INFO(res.body());
  REQUIRE(v.as_object().contains("result"));
  CHECK(v.at("result").at("rss_bytes").to_number<int64_t>() >= 0);
  CHECK(v.at("result").as_object().contains("uptime_s"));
}

TEST_CASE_METHOD(ServerFixture, "WebSocket carries requests and pushed notifications",
                 "[server]") {
  Start();
  websocket::stream<tcp::socket> ws(io());
  ws.next_layer().connect(Endpoint());
  ws.handshake("localhost", "/rpc");
  ws.text(true);

  ws.write(asio::buffer(Ping(5)));
  beast::flat_buffer buffer;
  ws.read(buffer);
  json::value v = ParseJson(beast::buffers_to_string(buffer.data()));
  buffer.consume(buffer.size());
  CHECK(v.at("id").as_int64() == 5);
  CHECK(v.at("result").as_bool());

  // The subscription exists once the handshake completed and the first
  // request was served.
  REQUIRE(hub().SubscriberCount() == 1);
  hub().Publish("Test.event", {{"n", 42}});
  ws.read(buffer);
  json::value n = ParseJson(beast::buffers_to_string(buffer.data()));
  CHECK(n.at("method").as_string() == "Test.event");
  CHECK(n.at("params").at("n").as_int64() == 42);
  CHECK_FALSE(n.as_object().contains("id"));
  ws.close(websocket::close_code::normal);
}

TEST_CASE_METHOD(ServerFixture, "mutual TLS: a client certificate is required", "[server][tls]") {
  UseTls();
  Start();
  REQUIRE(server().addresses().at(0).transport == "tls");

  SECTION("with a certificate the request is served") {
    auto ctx = ClientTls(true);
    Client<asio::ssl::stream<tcp::socket>> client(io(), *ctx);
    client.stream().set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
    client.stream().next_layer().connect(Endpoint());
    client.stream().handshake(asio::ssl::stream_base::client);
    Response res = client.Call(Post(Ping(1)));
    CHECK(res.result() == http::status::ok);
    CHECK(ParseJson(res.body()).at("result").as_bool());
  }
  SECTION("without a certificate the connection is refused") {
    auto ctx = ClientTls(false);
    Client<asio::ssl::stream<tcp::socket>> client(io(), *ctx);
    client.stream().next_layer().connect(Endpoint());
    beast::error_code ec;
    client.stream().handshake(asio::ssl::stream_base::client, ec);
    // TLS 1.3: the client's handshake may succeed before the server checks
    // the certificate; the rejection then arrives on the first read.
    if (!ec) {
      http::request<http::string_body> req = Post(Ping(1));
      http::write(client.stream(), req, ec);
      if (!ec) {
        beast::flat_buffer buf;
        Response res;
        http::read(client.stream(), buf, res, ec);
      }
    }
    CHECK(ec);
  }
}

TEST_CASE_METHOD(ServerFixture, "TLS: an oversized body gets 413", "[server][tls]") {
  UseTls();
  options().max_request_bytes = 1024;
  Start();
  auto ctx = ClientTls(true);
  Client<asio::ssl::stream<tcp::socket>> client(io(), *ctx);
  client.stream().next_layer().connect(Endpoint());
  client.stream().handshake(asio::ssl::stream_base::client);
  // Larger than the socket buffers: the server must read (discard) the body
  // for this write to finish.
  Response res = client.Call(Post(std::string(4 << 20, ' ') + Ping(1)));
  CHECK(res.result() == http::status::payload_too_large);
}

TEST_CASE_METHOD(ServerFixture, "reading pauses at the in-flight limit and resumes",
                 "[server]") {
  options().max_in_flight_per_connection = 4;
  Start();
  auto client = Connect();
  constexpr int kRequests = 500;
  for (int id = 1; id <= kRequests; ++id) client.Send(Post(Ping(id)));
  for (int id = 1; id <= kRequests; ++id) {
    Response res = client.Receive();
    REQUIRE(res.result() == http::status::ok);
    REQUIRE(ParseJson(res.body()).at("id").as_int64() == id);
  }
}

TEST_CASE_METHOD(ServerFixture, "a WebSocket subscriber that does not read is dropped",
                 "[server]") {
  options().max_ws_queue_bytes = 64 * 1024;
  Start();
  websocket::stream<tcp::socket> ws(io());
  ws.next_layer().connect(Endpoint());
  ws.handshake("localhost", "/rpc");
  ws.write(asio::buffer(Ping(1)));
  beast::flat_buffer buffer;
  ws.read(buffer);
  REQUIRE(hub().SubscriberCount() == 1);
  // Never read again: kernel buffers fill, then the server's queue.
  std::string pad(4096, 'x');
  for (int i = 0; i < 100000 && hub().SubscriberCount() > 0; ++i) {
    hub().Publish("Test.flood", {{"pad", pad}});
    if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(hub().SubscriberCount() == 0);
}

TEST_CASE_METHOD(ServerFixture, "plain TCP is refused on a non-loopback address",
                 "[server]") {
  options().host = "0.0.0.0";
  Status s = TryStart();
  CHECK(s.code() == Code::kFailedPrecondition);
}

TEST_CASE_METHOD(ServerFixture, "an idle connection is closed after idle_timeout",
                 "[server]") {
  options().idle_timeout = std::chrono::milliseconds(100);
  Start();
  auto client = Connect();
  REQUIRE(client.Call(Post(Ping(1))).result() == http::status::ok);
  // Blocks until the server closes the connection.
  beast::error_code ec = client.ReadUntilClosed();
  CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
}

TEST_CASE_METHOD(ServerFixture, "connections over max_connections are closed at accept",
                 "[server]") {
  options().max_connections = 1;
  Start();
  auto first = Connect();
  REQUIRE(first.Call(Post(Ping(1))).result() == http::status::ok);
  auto second = Connect();
  beast::error_code ec = second.ReadUntilClosed();
  CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
  CHECK(server().Stats().rejected == 1);
  CHECK(first.Call(Post(Ping(2))).result() == http::status::ok);
}

TEST_CASE_METHOD(ServerFixture, "the Unix socket serves RPC with mode 0600", "[server][unix]") {
  options().host = "";
  options().unix_socket = dir() + "/run/sanpool/agent.sock";
  Start();
  struct stat st {};
  REQUIRE(::stat(options().unix_socket.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir() + "/run/sanpool").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);

  Client<asio::local::stream_protocol::socket> client(io());
  client.stream().connect(asio::local::stream_protocol::endpoint(options().unix_socket));
  Response res = client.Call(Post(Ping(9)));
  REQUIRE(res.result() == http::status::ok);
  CHECK(ParseJson(res.body()).at("id").as_int64() == 9);
}

TEST_CASE_METHOD(ServerFixture, "a stale Unix socket is replaced, a live one or a file is not",
                 "[server][unix]") {
  options().host = "";
  options().unix_socket = dir() + "/agent.sock";
  const std::string& path = options().unix_socket;

  SECTION("stale socket") {
    {
      asio::local::stream_protocol::acceptor old(io());
      old.open();
      old.bind(asio::local::stream_protocol::endpoint(path));
      // Closed without unlinking: nobody answers on the file any more.
    }
    Start();
    Client<asio::local::stream_protocol::socket> client(io());
    client.stream().connect(asio::local::stream_protocol::endpoint(path));
    CHECK(client.Call(Post(Ping(1))).result() == http::status::ok);
  }
  SECTION("live socket") {
    asio::local::stream_protocol::acceptor live(io());
    live.open();
    live.bind(asio::local::stream_protocol::endpoint(path));
    live.listen();
    CHECK(TryStart().code() == Code::kFailedPrecondition);
  }
  SECTION("regular file") {
    std::ofstream(path) << "not a socket";
    CHECK(TryStart().code() == Code::kFailedPrecondition);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
  }
}

TEST_CASE_METHOD(ServerFixture, "shutdown waits for an in-flight worker request",
                 "[server]") {
  Start();
  auto client = Connect();
  client.Send(Post(Sleep(1, 300)));
  // Wait until the server has read the request.
  while (server().Stats().in_flight == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::thread stopper([this] { server().Shutdown(); });
  Response res = client.Receive();
  CHECK(res.result() == http::status::ok);
  CHECK(ParseJson(res.body()).at("result").as_int64() == 300);
  CHECK(client.ReadUntilClosed());
  stopper.join();
  CHECK(server().Stats().connections == 0);
}

TEST_CASE_METHOD(ServerFixture, "shutdown lets a WebSocket request finish, then closes",
                 "[server]") {
  Start();
  websocket::stream<tcp::socket> ws(io());
  ws.next_layer().connect(Endpoint());
  ws.handshake("localhost", "/rpc");
  ws.write(asio::buffer(Sleep(3, 200)));
  while (server().Stats().in_flight == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::thread stopper([this] { server().Shutdown(); });
  beast::flat_buffer buffer;
  ws.read(buffer);
  json::value v = ParseJson(beast::buffers_to_string(buffer.data()));
  CHECK(v.at("id").as_int64() == 3);
  CHECK(v.at("result").as_int64() == 200);
  buffer.consume(buffer.size());
  beast::error_code ec;
  ws.read(buffer, ec);
  CHECK(ec == websocket::error::closed);
  CHECK(ws.reason().code == websocket::close_code::going_away);
  stopper.join();
}

TEST_CASE_METHOD(ServerFixture, "missing TLS files are a configuration error", "[server][tls]") {
  options().tls = TlsMode::kMutualTls;
  options().ca_file = dir() + "/missing/ca.pem";
  options().cert_file = dir() + "/missing/host.pem";
  options().key_file = dir() + "/missing/host.key";
  Status s = TryStart();
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains("ca.pem"));
}

}  // namespace
}  // namespace sanpool::agent
