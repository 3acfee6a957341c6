#include "agent/agent_config.h"

#include <catch2/catch.hpp>

namespace sanpool::agent {
namespace {

Result<AgentConfig> FromText(std::string_view text) {
  Config config(AgentConfigSchema());
  Status s = config.LoadText(text, "agent.conf");
  if (!s.ok()) return s;
  return AgentConfigFrom(config);
}

TEST_CASE("agent config defaults", "[agent_config]") {
  auto c = FromText("");
  REQUIRE(c.ok());
  CHECK(c->server.host == "::");
  CHECK(c->server.port == 54321);
  CHECK(c->server.tls == TlsMode::kMutualTls);
  CHECK(c->server.unix_socket == "/run/sanpool/agent.sock");
  CHECK(c->server.io_threads == 1);
  CHECK(c->worker_threads == 4);
  CHECK(c->server.max_request_bytes == 1 << 20);
  CHECK(c->max_batch == 100);
  CHECK(c->server.max_in_flight_per_connection == 64);
  CHECK(c->server.max_connections == 1000);
  CHECK(c->server.idle_timeout == std::chrono::seconds(300));
  CHECK(c->server.header_timeout == std::chrono::seconds(10));
  CHECK(c->log_level == log::Level::kInfo);
}

TEST_CASE("agent config reads values", "[agent_config]") {
  auto c = FromText(
      "[rpc]\nhost = 127.0.0.1\nport = 0\ntls = false\nidle_timeout_s = 250ms\n"
      "max_request_bytes = 64K\n[log]\nlevel = debug\n");
  REQUIRE(c.ok());
  CHECK(c->server.tls == TlsMode::kPlain);
  CHECK(c->server.port == 0);
  CHECK(c->server.idle_timeout == std::chrono::milliseconds(250));
  CHECK(c->server.max_request_bytes == 64 * 1024);
  CHECK(c->log_level == log::Level::kDebug);
}

TEST_CASE("agent config block domain keys", "[agent_config]") {
  auto d = FromText("");
  REQUIRE(d.ok());
  CHECK(d->block.dm_backend == DmBackend::kKernel);
  CHECK(d->block.devices.empty());
  CHECK(d->block.max_lvm_processes == 10);

  auto c = FromText(
      "[dm]\nbackend = user\ndmemu_socket = /run/x/dmemu.sock\n"
      "[lvm]\ndevices = /dev/loop3, /dev/mapper/36001,,\nmax_processes = 4\n");
  REQUIRE(c.ok());
  CHECK(c->block.dm_backend == DmBackend::kUser);
  CHECK(c->block.dmemu_socket == "/run/x/dmemu.sock");
  CHECK(c->block.devices ==
        std::vector<std::string>{"/dev/loop3", "/dev/mapper/36001"});
  CHECK(c->block.max_lvm_processes == 4);

  CHECK(FromText("[lvm]\ndevices = loop3\n").status().code() ==
        Code::kInvalidArgument);
  CHECK(FromText("[lvm]\ndevices = /dev/sd*\n").status().code() ==
        Code::kInvalidArgument);
  CHECK(FromText("[dm]\nbackend = fake\n").status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("agent config refuses plain TCP off loopback", "[agent_config]") {
  auto c = FromText("[rpc]\nhost = 0.0.0.0\ntls = false\n");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidArgument);
  CHECK_THAT(std::string(c.status().message()), Catch::Contains("rpc.tls"));
}

TEST_CASE("agent config needs a listener", "[agent_config]") {
  auto c = FromText("[rpc]\nhost = \"\"\nunix_socket = \"\"\n");
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(std::string(c.status().message()), Catch::Contains("no listener"));
}

TEST_CASE("agent config schema renders documentation", "[agent_config]") {
  std::string doc = AgentConfigSchema().RenderMarkdown();
  CHECK_THAT(doc, Catch::Contains("rpc.max_in_flight_per_connection"));
  CHECK_THAT(doc, Catch::Contains("log.level"));
}

}  // namespace
}  // namespace sanpool::agent
