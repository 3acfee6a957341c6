// Test helpers for the agent system tests that serve block domains on the
// test's loop devices through a sanpool-dmemu daemon (block_agent_system,
// block_crash_system, block_pool_system, extend_faults_system).
#ifndef SANPOOL_TEST_BLOCK_HOST_UTIL_H_
#define SANPOOL_TEST_BLOCK_HOST_UTIL_H_

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "test/agent_harness.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool::testing {

// The agent config (`--set` pairs) of a host whose block domains live on
// `loops` (lvm.devices) and are mapped by `dmemu` (dm.backend = user).
inline std::vector<std::string> BlockHostSets(
    const dmemu::Daemon& dmemu, const std::vector<std::string>& loops) {
  std::string devices;
  for (const std::string& loop : loops) {
    devices += (devices.empty() ? "" : ",") + loop;
  }
  return {"dm.backend=user", "dm.dmemu_socket=" + dmemu.socket(),
          "dm.dmemu_run_dir=" + dmemu.run_dir(), "lvm.devices=" + devices};
}

// On `agent`: LVMVolumeGroup.create named `sd` over `loops`, then
// StorageDomain.create of the ISCSI data domain `sd` called `name` on it.
// Returns the VG's uuid. Fails the test on any error.
inline boost::json::value CreateBlockDomain(
    AgentProcess& agent, const std::string& sd,
    const std::vector<std::string>& loops, const std::string& name) {
  boost::json::value vg_uuid = agent.Call(
      "LVMVolumeGroup.create",
      {{"name", sd}, {"devlist", boost::json::array(loops.begin(), loops.end())}});
  agent.Call("StorageDomain.create",
             {{"storagedomainID", sd}, {"domainType", 3},
              {"typeArgs", vg_uuid}, {"name", name}, {"domainClass", 1}});
  return vg_uuid;
}

}  // namespace sanpool::testing

#endif  // SANPOOL_TEST_BLOCK_HOST_UTIL_H_
