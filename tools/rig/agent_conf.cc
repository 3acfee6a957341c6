#include "tools/rig/agent_conf.h"

#include <algorithm>
#include <map>

#include "base/env.h"

namespace sanpool::rig {

std::vector<std::pair<std::string, std::string>> WantedAgentKeys(
    const AgentConfRequest& request) {
  const HostLayout& h = request.host;
  const std::string io = std::to_string(request.io_timeout_s);
  std::string devices;
  for (const std::string& lun : request.luns) {
    devices += (devices.empty() ? "" : ",") + lun;
  }
  std::vector<std::pair<std::string, std::string>> keys = {
      {"rpc.host", "127.0.0.1"},
      {"rpc.port", "0"},
      {"rpc.tls", "true"},
      {"rpc.ca_file", JoinPath(request.rig.pki_dir, "ca.pem")},
      {"rpc.cert_file", JoinPath(request.rig.pki_dir, "host.pem")},
      {"rpc.key_file", JoinPath(request.rig.pki_dir, "host.key")},
      {"rpc.unix_socket", h.agent_socket},
      {"rpc.drain_timeout_s", "5"},
      // Volume.extend blocks a worker until the SPM answered: room for 60
      // concurrent extends per host (extend-bench --rig).
      {"rpc.worker_threads", "64"},
      {"storage.repository", h.repository},
      {"storage.run_dir", h.storage_run_dir},
      {"log.level", "info"},
      // Optional: set when the agent declares them.
      {"sanlock.io_timeout_s", io},
      {"spm.auto", "true"},
      {"agent.state_file", h.state_file},
      {"dm.backend", "user"},
      {"dm.dmemu_socket", h.dmemu_socket},
      {"dm.dmemu_run_dir", h.dmemu_run_dir},
  };
  if (!devices.empty()) keys.push_back({"lvm.devices", devices});
  return keys;
}

Result<AgentConf> RenderAgentConf(const AgentConfRequest& request, const ConfigSchema& schema) {
  AgentConf conf;
  std::vector<std::pair<std::string, std::string>> keys = WantedAgentKeys(request);
  for (const std::string& item : request.overrides) {
    // The agent's own --set rules (declared key, value of its type), and
    // one line: the pair becomes a line of the INI file.
    Config check(schema);
    if (Status s = check.ApplyOverride(item); !s.ok()) {
      return s.Annotate("agent config '" + item + "'");
    }
    if (item.find_first_of("\r\n") != std::string::npos) {
      return InvalidArgumentError("agent config '" + item + "': a line break");
    }
    const size_t eq = item.find('=');
    std::string key = item.substr(0, eq);  // as --set, blanks around it
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    auto same = [&key](const auto& kv) { return kv.first == key; };
    if (auto it = std::find_if(keys.begin(), keys.end(), same); it != keys.end()) {
      it->second = item.substr(eq + 1);
    } else {
      keys.emplace_back(std::move(key), item.substr(eq + 1));
    }
  }
  // Sections in first-seen order, keys in wanted order.
  std::vector<std::string> order;
  std::map<std::string, std::string> bodies;
  for (const auto& [key, value] : keys) {
    if (schema.Find(key) == nullptr) {
      if (key.starts_with("rpc.") || key.starts_with("storage.") || key.starts_with("log.")) {
        return FailedPreconditionError("the agent does not declare config key " + key);
      }
      conf.skipped.push_back(key);
      continue;
    }
    size_t dot = key.find('.');
    std::string section = key.substr(0, dot);
    if (!bodies.contains(section)) order.push_back(section);
    bodies[section] += key.substr(dot + 1) + " = " + value + "\n";
  }
  conf.text = "# Written by `sanpool rig` for host " + std::to_string(request.host.index) +
              "; rewritten at every start.\n";
  for (const std::string& section : order) {
    conf.text += "\n[" + section + "]\n" + bodies[section];
  }
  return conf;
}

}  // namespace sanpool::rig
