// Rig: status, calls to a host's agent, and how status is shown.
#include <cstdio>
#include <optional>
#include <sstream>

#include <boost/json.hpp>

#include "spm/local_state.h"
#include "tools/rig/processes.h"
#include "tools/rig/rig.h"

namespace sanpool::rig {
namespace {

namespace json = boost::json;

constexpr auto kStatusTimeout = std::chrono::seconds(5);

json::object ProcessJson(const ProcessStatus& p) {
  return {{"pid", p.record.pid}, {"alive", p.alive}};
}

std::string ProcessCell(const ProcessStatus& p) {
  if (p.record.pid == 0) return "-";
  return std::to_string(p.record.pid) + (p.alive ? " up" : " dead");
}

// "pool: SPM host 2" per pool the agent reports, or "-".
std::string SpmCell(const json::value& spm) {
  if (!spm.is_object() || spm.as_object().empty()) return "-";
  std::string out;
  for (const auto& [pool, info] : spm.as_object()) {
    if (!out.empty()) out += " ";
    std::string who = "?";
    if (const json::object* o = info.if_object()) {
      const json::value* status = o->if_contains("spmStatus");
      const json::value* id = o->if_contains("spmId");
      if (status != nullptr && status->is_string()) who = std::string(status->get_string());
      if (id != nullptr && id->is_int64()) who += "(" + std::to_string(id->get_int64()) + ")";
    }
    out += std::string(pool.substr(0, 8)) + ":" + who;
  }
  return out;
}

std::string DomainsCell(const json::value& domains) {
  if (!domains.is_object() || domains.as_object().empty()) return "-";
  std::string out;
  for (const auto& [sd, stats] : domains.as_object()) {
    if (!out.empty()) out += " ";
    bool valid = false;
    bool acquired = false;
    if (const json::object* o = stats.if_object()) {
      if (const json::value* v = o->if_contains("valid"); v && v->is_bool()) valid = v->get_bool();
      if (const json::value* a = o->if_contains("acquired"); a && a->is_bool()) {
        acquired = a->get_bool();
      }
    }
    out += std::string(sd.substr(0, 8)) + (valid ? ":valid" : ":invalid") +
           (acquired ? "+lease" : "");
  }
  return out;
}

}  // namespace

Result<agent::RpcReply> Rig::CallHost(const HostLayout& host, const std::string& method,
                                      const json::value& params, std::chrono::seconds timeout) {
  agent::ClientOptions options;
  options.endpoint = {.kind = agent::Endpoint::Kind::kUnix, .unix_path = host.agent_socket};
  options.connect_timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5));
  options.request_timeout = timeout;
  ASSIGN_OR_RETURN(std::unique_ptr<agent::RpcClient> client, agent::RpcClient::Connect(options));
  return client->Call(method, params);
}

Result<agent::RpcReply> Rig::Call(int index, const std::string& method, const json::value& params,
                                  std::chrono::seconds timeout) {
  ASSIGN_OR_RETURN(RigState state, LoadState());
  if (state.FindHost(index) == nullptr) return NotFoundError("no host " + std::to_string(index));
  return CallHost(layout_.Host(index), method, params, timeout);
}

HostStatus Rig::QueryHost(const HostRecord& record) {
  HostStatus s;
  s.index = record.index;
  s.sanlock = {record.sanlock, IsAlive(record.sanlock)};
  s.dmemu = {record.dmemu, IsAlive(record.dmemu)};
  s.agent = {record.agent, IsAlive(record.agent)};
  s.port = record.port;
  if (!s.agent.alive) {
    s.ping_error = "agent not running";
    return s;
  }
  const HostLayout host = layout_.Host(record.index);
  Result<agent::RpcReply> ping = CallHost(host, "Host.ping", nullptr, kStatusTimeout);
  s.ping_ok = ping.ok() && ping->ok();
  if (!ping.ok()) s.ping_error = ping.status().ToString();
  if (ping.ok() && !ping->ok()) s.ping_error = ping->error->message;
  if (!s.ping_ok) return s;
  // The pool this host is connected to (the agent's local state file,
  // spm/local_state.h) and who is SPM in it, as this host sees it.
  Result<std::optional<spm::LocalState>> pool = spm::LoadLocalState(env_, host.state_file);
  if (pool.ok() && pool->has_value()) {
    const std::string& pool_uuid = (*pool)->pool_uuid;
    Result<agent::RpcReply> st = CallHost(host, "StoragePool.getSpmStatus",
                                          json::object{{"storagepoolID", pool_uuid}},
                                          kStatusTimeout);
    json::object spm;
    spm[pool_uuid] = st.ok() && st->ok() ? st->result : json::value(nullptr);
    s.spm = std::move(spm);
  }
  Result<agent::RpcReply> repo =
      CallHost(host, "Host.getStorageRepoStats", json::object{}, kStatusTimeout);
  if (repo.ok() && repo->ok()) s.domains = repo->result;
  return s;
}

Result<RigStatus> Rig::GetStatus() {
  ASSIGN_OR_RETURN(RigState state, LoadState());
  RigStatus status;
  for (const HostRecord& h : state.hosts) status.hosts.push_back(QueryHost(h));
  status.state = std::move(state);
  return status;
}

json::value RigStatusToJson(const RigStatus& status) {
  json::array hosts;
  for (const HostStatus& h : status.hosts) {
    hosts.push_back(json::object{{"index", h.index},
                                 {"sanlock", ProcessJson(h.sanlock)},
                                 {"dmemu", ProcessJson(h.dmemu)},
                                 {"agent", ProcessJson(h.agent)},
                                 {"port", h.port},
                                 {"ping", h.ping_ok},
                                 {"ping_error", h.ping_error},
                                 {"spm", h.spm},
                                 {"domains", h.domains}});
  }
  const RigState& s = status.state;
  return json::object{{"dir", s.dir},
                      {"io_timeout_s", s.io_timeout_s},
                      {"lun_size", s.lun_size},
                      {"luns", json::array(s.luns.begin(), s.luns.end())},
                      {"skipped_config_keys", json::array(s.skipped_config_keys.begin(),
                                                          s.skipped_config_keys.end())},
                      {"hosts", std::move(hosts)}};
}

std::string FormatRigStatus(const RigStatus& status) {
  const RigState& s = status.state;
  std::ostringstream out;
  out << "rig " << s.dir << ": " << s.hosts.size() << " hosts, io_timeout " << s.io_timeout_s
      << " s, SAN";
  for (const std::string& lun : s.luns) out << " " << lun;
  out << " (" << (s.lun_size >> 30) << " GiB each), NAS " << s.dir << "/nas\n";
  if (!s.skipped_config_keys.empty()) {
    out << "agent config keys the agent does not know (not set):";
    for (const std::string& k : s.skipped_config_keys) out << " " << k;
    out << "\n";
  }
  char line[512];
  std::snprintf(line, sizeof(line), "%-5s %-13s %-13s %-13s %-6s %-5s %s\n", "HOST", "SANLOCK",
                "DMEMU", "AGENT", "PORT", "PING", "SPM / DOMAINS");
  out << line;
  for (const HostStatus& h : status.hosts) {
    std::string extra = SpmCell(h.spm) + " / " + DomainsCell(h.domains);
    std::snprintf(line, sizeof(line), "%-5d %-13s %-13s %-13s %-6d %-5s %s\n", h.index,
                  ProcessCell(h.sanlock).c_str(), ProcessCell(h.dmemu).c_str(),
                  ProcessCell(h.agent).c_str(), h.port, h.ping_ok ? "ok" : "no", extra.c_str());
    out << line;
  }
  return out.str();
}

}  // namespace sanpool::rig
