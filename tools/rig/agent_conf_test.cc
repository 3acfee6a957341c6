#include "tools/rig/agent_conf.h"

#include <catch2/catch.hpp>

#include "agent/agent_config.h"

namespace sanpool::rig {
namespace {

AgentConfRequest Request() {
  RigLayout rig = LayoutFor("/var/tmp/rig");
  return {.rig = rig, .host = rig.Host(2), .io_timeout_s = 3};
}

TEST_CASE("the rig's agent.conf loads with the agent's own schema", "[rig]") {
  Result<AgentConf> conf = RenderAgentConf(Request(), agent::AgentConfigSchema());
  REQUIRE(conf.ok());
  Config config(agent::AgentConfigSchema());
  REQUIRE(config.LoadText(conf->text, "agent.conf").ok());
  Result<agent::AgentConfig> agent = agent::AgentConfigFrom(config);
  REQUIRE(agent.ok());
  CHECK(config.GetString("rpc.host") == "127.0.0.1");
  CHECK(config.GetInt("rpc.port") == 0);
  CHECK(config.GetBool("rpc.tls"));
  CHECK(config.GetPath("rpc.ca_file") == "/var/tmp/rig/pki/ca.pem");
  CHECK(config.GetPath("rpc.unix_socket") == "/var/tmp/rig/hosts/2/agent.sock");
  CHECK(agent->storage.repository == "/var/tmp/rig/hosts/2/data-center");
  CHECK(agent->storage.run_dir == "/var/tmp/rig/hosts/2/storage");
  // Every wanted key is either written or reported as skipped.
  for (const auto& [key, value] : WantedAgentKeys(Request())) {
    bool declared = agent::AgentConfigSchema().Find(key) != nullptr;
    bool skipped = std::find(conf->skipped.begin(), conf->skipped.end(), key) != conf->skipped.end();
    CHECK(declared != skipped);
  }
}

TEST_CASE("the SAN's loops are the agent's lvm.devices", "[rig]") {
  AgentConfRequest request = Request();
  Result<AgentConf> conf = RenderAgentConf(request, agent::AgentConfigSchema());
  REQUIRE(conf.ok());
  CHECK(conf->text.find("devices =") == std::string::npos);
  request.luns = {"/dev/loop7", "/dev/loop9"};
  conf = RenderAgentConf(request, agent::AgentConfigSchema());
  REQUIRE(conf.ok());
  Config config(agent::AgentConfigSchema());
  REQUIRE(config.LoadText(conf->text, "agent.conf").ok());
  CHECK(config.GetString("lvm.devices") == "/dev/loop7,/dev/loop9");
  CHECK(config.GetInt("rpc.worker_threads") == 64);
}

TEST_CASE("--agent-config overrides replace or add keys, checked", "[rig]") {
  AgentConfRequest request = Request();
  request.overrides = {"mailbox.lvm_shell_batch=true", " rpc.worker_threads =8"};
  Result<AgentConf> conf = RenderAgentConf(request, agent::AgentConfigSchema());
  REQUIRE(conf.ok());
  Config config(agent::AgentConfigSchema());
  REQUIRE(config.LoadText(conf->text, "agent.conf").ok());
  CHECK(config.GetBool("mailbox.lvm_shell_batch"));
  CHECK(config.GetInt("rpc.worker_threads") == 8);  // replaced, not repeated
  for (const char* bad : {"mailbox.lvm_shell_batch", "=1", "nosuch.key=1",
                          "nosection=1", "log.level=info\n[rpc]",
                          "mailbox.spm_concurrency=many"}) {
    request.overrides = {bad};
    Result<AgentConf> refused = RenderAgentConf(request, agent::AgentConfigSchema());
    INFO(bad);
    CHECK(refused.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("optional keys are written only when the schema declares them", "[rig]") {
  ConfigSchema schema = agent::AgentConfigSchema();
  if (schema.Find("sanlock.io_timeout_s") == nullptr) {
    schema.Duration("sanlock.io_timeout_s", std::chrono::seconds(10), "test");
  }
  Result<AgentConf> conf = RenderAgentConf(Request(), schema);
  REQUIRE(conf.ok());
  CHECK(conf->text.find("[sanlock]\nio_timeout_s = 3\n") != std::string::npos);
  CHECK(std::find(conf->skipped.begin(), conf->skipped.end(), "sanlock.io_timeout_s") ==
        conf->skipped.end());
}

TEST_CASE("an agent without the rpc keys cannot run in the rig", "[rig]") {
  ConfigSchema bare;
  bare.String("log.level", "info", "level");
  Result<AgentConf> conf = RenderAgentConf(Request(), bare);
  CHECK(conf.status().code() == Code::kFailedPrecondition);
}

}  // namespace
}  // namespace sanpool::rig
