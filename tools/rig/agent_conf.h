// The agent.conf the rig writes for each host (doc/rig.md, doc/config.md).
//
// Every host's agent listens on 127.0.0.1 with mutual TLS on port 0 (the
// bound port goes to --port-file) and on its own Unix socket, keeps its
// storage under its host directory and reaches its own sanlock daemon and dm
// emulator. Keys that other parts of the agent add over time (the SPM's
// `spm.auto`, `sanlock.io_timeout_s`, `agent.state_file`, the dm backend)
// are written only when the agent's schema declares them; the others are
// returned as skipped so that `rig status` can say what the rig could not
// configure.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_TOOLS_RIG_AGENT_CONF_H_
#define SANPOOL_TOOLS_RIG_AGENT_CONF_H_

#include <string>
#include <utility>
#include <vector>

#include "base/config.h"
#include "tools/rig/rig_state.h"

namespace sanpool::rig {

struct AgentConfRequest {
  RigLayout rig;
  HostLayout host;
  int io_timeout_s = 2;
  // The SAN's loop devices: the agent's lvm.devices (none: not written).
  std::vector<std::string> luns;
  // "key=value" pairs that replace or add to the rig's keys (rig up
  // --agent-config). Each key must be one the agent declares.
  std::vector<std::string> overrides;
};

struct AgentConf {
  std::string text;                  // INI, one [section] per group
  std::vector<std::string> skipped;  // wanted keys the schema lacks
};

// The (key, value) pairs the rig wants for this host, in order.
std::vector<std::pair<std::string, std::string>> WantedAgentKeys(
    const AgentConfRequest& request);

// Renders the keys `schema` declares. Keys it lacks among the required
// ones (rpc.*, storage.*) are a kFailedPrecondition: an agent that old cannot
// run in the rig. An override the agent's --set would refuse (not
// "key=value", a key the schema lacks, a value not of the key's type) or
// that holds a line break is kInvalidArgument.
Result<AgentConf> RenderAgentConf(const AgentConfRequest& request,
                                  const ConfigSchema& schema);

}  // namespace sanpool::rig

#endif  // SANPOOL_TOOLS_RIG_AGENT_CONF_H_
