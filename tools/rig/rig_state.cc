#include "tools/rig/rig_state.h"

#include <cctype>
#include <limits>

#include <boost/json.hpp>

#include "base/env.h"

namespace sanpool::rig {
namespace {

namespace json = boost::json;

constexpr int kVersion = 1;

json::object EncodeProcess(const ProcessRecord& p) {
  return {{"pid", p.pid}, {"start_time", p.start_time}};
}

Result<int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) {
    return InvalidArgumentError("rig.json: missing number " + std::string(key));
  }
  json::error_code ec;
  int64_t n = v->to_number<int64_t>(ec);
  if (ec) return InvalidArgumentError("rig.json: bad number " + std::string(key));
  return n;
}

Result<const json::object*> Object(const json::value& v, std::string_view what) {
  if (!v.is_object()) return InvalidArgumentError("rig.json: " + std::string(what) + " not an object");
  return &v.get_object();
}

Result<ProcessRecord> DecodeProcess(const json::object& host, std::string_view key) {
  const json::value* v = host.if_contains(key);
  if (v == nullptr) return InvalidArgumentError("rig.json: host without " + std::string(key));
  ASSIGN_OR_RETURN(const json::object* o, Object(*v, key));
  ProcessRecord p;
  ASSIGN_OR_RETURN(int64_t pid, Int(*o, "pid"));
  ASSIGN_OR_RETURN(int64_t start, Int(*o, "start_time"));
  if (pid < 0 || pid > std::numeric_limits<pid_t>::max() || start < 0) {
    return InvalidArgumentError("rig.json: bad process record " + std::string(key));
  }
  p.pid = static_cast<pid_t>(pid);
  p.start_time = static_cast<uint64_t>(start);
  return p;
}

Result<std::vector<std::string>> Strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return out;
  if (!v->is_array()) return InvalidArgumentError("rig.json: " + std::string(key) + " not an array");
  for (const json::value& e : v->get_array()) {
    if (!e.is_string()) return InvalidArgumentError("rig.json: " + std::string(key) + " entry not a string");
    out.emplace_back(e.get_string());
  }
  return out;
}

}  // namespace

std::string RigLayout::LunFile(int k) const {
  return JoinPath(san_dir, "lun" + std::to_string(k));
}

HostLayout RigLayout::Host(int index) const {
  HostLayout h;
  h.index = index;
  h.dir = JoinPath(hosts_dir, std::to_string(index));
  h.sanlock_run_dir = JoinPath(h.dir, "sanlock");
  h.sanlock_log = JoinPath(h.dir, "sanlock.log");
  h.dmemu_mount = JoinPath(h.dir, "dmemu");
  h.dmemu_run_dir = JoinPath(h.dir, "dmemu-run");
  h.dmemu_socket = JoinPath(h.dir, "dmemu.sock");
  h.dmemu_log = JoinPath(h.dir, "dmemu.log");
  h.agent_conf = JoinPath(h.dir, "agent.conf");
  h.agent_socket = JoinPath(h.dir, "agent.sock");
  h.agent_port_file = JoinPath(h.dir, "agent.port");
  h.agent_log = JoinPath(h.dir, "agent.log");
  h.repository = JoinPath(h.dir, "data-center");
  h.storage_run_dir = JoinPath(h.dir, "storage");
  h.state_file = JoinPath(h.dir, "state");
  return h;
}

RigLayout LayoutFor(const std::string& dir) {
  RigLayout l;
  l.dir = dir;
  l.state_file = JoinPath(dir, "rig.json");
  l.pki_dir = JoinPath(dir, "pki");
  l.san_dir = JoinPath(dir, "san");
  l.nas_dir = JoinPath(dir, "nas");
  l.hosts_dir = JoinPath(dir, "hosts");
  return l;
}

HostRecord* RigState::FindHost(int index) {
  if (index < 1 || index > static_cast<int>(hosts.size())) return nullptr;
  return &hosts[index - 1];
}

std::string EncodeRigState(const RigState& state) {
  json::array hosts;
  for (const HostRecord& h : state.hosts) {
    hosts.push_back(json::object{{"index", h.index},
                                 {"sanlock", EncodeProcess(h.sanlock)},
                                 {"dmemu", EncodeProcess(h.dmemu)},
                                 {"agent", EncodeProcess(h.agent)},
                                 {"port", h.port}});
  }
  json::array luns(state.luns.begin(), state.luns.end());
  json::array skipped(state.skipped_config_keys.begin(), state.skipped_config_keys.end());
  json::array agent_config(state.agent_config.begin(), state.agent_config.end());
  json::object root{{"version", kVersion},
                    {"dir", state.dir},
                    {"io_timeout_s", state.io_timeout_s},
                    {"lun_size", state.lun_size},
                    {"luns", std::move(luns)},
                    {"hosts", std::move(hosts)},
                    {"skipped_config_keys", std::move(skipped)},
                    {"agent_config", std::move(agent_config)}};
  return json::serialize(root) + "\n";
}

Result<RigState> DecodeRigState(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return InvalidArgumentError("rig.json: " + ec.message());
  ASSIGN_OR_RETURN(const json::object* o, Object(root, "the document"));
  ASSIGN_OR_RETURN(int64_t version, Int(*o, "version"));
  if (version != kVersion) {
    return InvalidArgumentError("rig.json: unsupported version " + std::to_string(version));
  }
  RigState state;
  const json::value* dir = o->if_contains("dir");
  if (dir == nullptr || !dir->is_string()) return InvalidArgumentError("rig.json: missing dir");
  state.dir = std::string(dir->get_string());
  ASSIGN_OR_RETURN(int64_t io, Int(*o, "io_timeout_s"));
  ASSIGN_OR_RETURN(int64_t lun_size, Int(*o, "lun_size"));
  if (io < 1 || lun_size < 0) return InvalidArgumentError("rig.json: bad io_timeout_s or lun_size");
  state.io_timeout_s = static_cast<int>(io);
  state.lun_size = static_cast<uint64_t>(lun_size);
  ASSIGN_OR_RETURN(state.luns, Strings(*o, "luns"));
  ASSIGN_OR_RETURN(state.skipped_config_keys, Strings(*o, "skipped_config_keys"));
  if (o->contains("agent_config")) {  // absent in rigs built before it
    ASSIGN_OR_RETURN(state.agent_config, Strings(*o, "agent_config"));
  }
  const json::value* hosts = o->if_contains("hosts");
  if (hosts == nullptr || !hosts->is_array()) return InvalidArgumentError("rig.json: missing hosts");
  for (const json::value& hv : hosts->get_array()) {
    ASSIGN_OR_RETURN(const json::object* h, Object(hv, "host"));
    HostRecord record;
    ASSIGN_OR_RETURN(int64_t index, Int(*h, "index"));
    if (index != static_cast<int64_t>(state.hosts.size()) + 1) {
      return InvalidArgumentError("rig.json: hosts out of order");
    }
    record.index = static_cast<int>(index);
    ASSIGN_OR_RETURN(record.sanlock, DecodeProcess(*h, "sanlock"));
    ASSIGN_OR_RETURN(record.dmemu, DecodeProcess(*h, "dmemu"));
    ASSIGN_OR_RETURN(record.agent, DecodeProcess(*h, "agent"));
    ASSIGN_OR_RETURN(int64_t port, Int(*h, "port"));
    if (port < 0 || port > 65535) return InvalidArgumentError("rig.json: bad port");
    record.port = static_cast<int>(port);
    state.hosts.push_back(record);
  }
  return state;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > std::numeric_limits<uint64_t>::max() / 10) break;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  std::string_view unit = text.substr(i);
  int shift = -1;
  if (unit.empty()) shift = 0;
  if (unit == "K" || unit == "KiB") shift = 10;
  if (unit == "M" || unit == "MiB") shift = 20;
  if (unit == "G" || unit == "GiB") shift = 30;
  if (unit == "T" || unit == "TiB") shift = 40;
  if (i == 0 || shift < 0 || n == 0 || n > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return InvalidArgumentError("bad size '" + std::string(text) + "' (e.g. 50G, 512M)");
  }
  return n << shift;
}

}  // namespace sanpool::rig
