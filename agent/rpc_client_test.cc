#include "agent/rpc_client.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace sanpool::agent {
namespace {

namespace json = boost::json;

TEST_CASE("endpoint: paths and unix: URLs are Unix sockets") {
  for (const char* text : {"/run/sanpool/agent.sock", "unix:/run/sanpool/agent.sock"}) {
    Result<Endpoint> e = ParseEndpoint(text);
    REQUIRE(e.ok());
    CHECK(e->kind == Endpoint::Kind::kUnix);
    CHECK(e->unix_path == "/run/sanpool/agent.sock");
    CHECK(EndpointToString(*e) == "unix:/run/sanpool/agent.sock");
  }
}

TEST_CASE("endpoint: https and http URLs with and without port") {
  Result<Endpoint> tls = ParseEndpoint("https://node1:4000/rpc");
  REQUIRE(tls.ok());
  CHECK(tls->kind == Endpoint::Kind::kTls);
  CHECK(tls->host == "node1");
  CHECK(tls->port == 4000);

  Result<Endpoint> plain = ParseEndpoint("http://127.0.0.1");
  REQUIRE(plain.ok());
  CHECK(plain->kind == Endpoint::Kind::kTcp);
  CHECK(plain->port == kDefaultPort);

  Result<Endpoint> v6 = ParseEndpoint("https://[::1]:54321/");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(EndpointToString(*v6) == "https://[::1]:54321");
}

TEST_CASE("endpoint: malformed URLs are invalid arguments") {
  for (const char* text : {"ftp://x", "https://", "https://h:0", "https://h:70000",
                           "https://h:12x", "https://[::1", "https://h/other", "relative"}) {
    INFO(text);
    CHECK(ParseEndpoint(text).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("request: id and params are left out when absent") {
  CHECK(json::parse(BuildRpcRequest("Host.ping", nullptr, 7)) ==
        json::parse(R"({"jsonrpc":"2.0","id":7,"method":"Host.ping"})"));
  CHECK(json::parse(BuildRpcRequest("Ev.x", json::object{{"a", 1}}, std::nullopt)) ==
        json::parse(R"({"jsonrpc":"2.0","method":"Ev.x","params":{"a":1}})"));
}

TEST_CASE("reply: result for our id") {
  Result<RpcReply> r = ParseRpcReply(R"({"jsonrpc":"2.0","id":3,"result":{"x":1}})", 3);
  REQUIRE(r.ok());
  CHECK(r->ok());
  CHECK(r->result.at("x") == 1);
  CHECK(r->raw == R"({"jsonrpc":"2.0","id":3,"result":{"x":1}})");
}

TEST_CASE("reply: error object with data, also with id null") {
  Result<RpcReply> r = ParseRpcReply(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":{"status":"INVALID_ARGUMENT"}}})",
      3);
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error->code == -32700);
  CHECK(r->error->message == "Parse error");
  CHECK(r->error->data.at("status") == "INVALID_ARGUMENT");
}

TEST_CASE("reply: garbage, other ids and missing members are kUnknown") {
  for (const char* text : {"not json", "[1]", R"({"id":4,"result":1})", R"({"id":3})",
                           R"({"id":3,"error":{"message":"no code"}})"}) {
    INFO(text);
    CHECK(ParseRpcReply(text, 3).status().code() == Code::kUnknown);
  }
}

TEST_CASE("connect: nobody listening is kUnavailable") {
  ClientOptions options;
  options.endpoint = *ParseEndpoint("/nonexistent/sanpool-test.sock");
  CHECK(RpcClient::Connect(options).status().code() == Code::kUnavailable);
}

TEST_CASE("connect: unreadable TLS files are kInvalidArgument") {
  ClientOptions options;
  options.endpoint = *ParseEndpoint("https://127.0.0.1:1");
  options.tls.ca_file = "/nonexistent/ca.pem";
  CHECK(RpcClient::Connect(options).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace sanpool::agent
