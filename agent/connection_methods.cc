#include "agent/connection_methods.h"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "base/log.h"
#include "domains/storage_errors.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

constexpr size_t kMaxConnections = 1000;

Result<std::string> OptionalString(const json::object& o, std::string_view key,
                                   bool allow_number) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::string();
  if (it->value().is_string()) return std::string(it->value().as_string());
  if (allow_number && it->value().is_int64()) {
    return std::to_string(it->value().as_int64());
  }
  if (allow_number && it->value().is_double()) {
    // protocol_version 4.1 sent as a number.
    char text[32];
    std::snprintf(text, sizeof(text), "%g", it->value().as_double());
    return std::string(text);
  }
  return InvalidParameter("connection param " + std::string(key) +
                          ": expected a string");
}

Result<std::optional<int>> OptionalInt(const json::object& o,
                                       std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<int>();
  const json::value& v = it->value();
  int64_t n = -1;
  if (v.is_int64()) {
    n = v.as_int64();
  } else if (v.is_string() && !v.as_string().empty() &&
             v.as_string().size() < 10 &&
             std::string_view(v.as_string()).find_first_not_of("0123456789") ==
                 std::string_view::npos) {
    n = std::stoll(std::string(v.as_string()));
  } else if (!(v.is_string() && v.as_string().empty())) {
    return InvalidParameter("connection param " + std::string(key) +
                            ": expected a non-negative integer");
  } else {
    return std::optional<int>();  // "" = default, as oVirt treats it
  }
  if (n < 0 || n > 1000000) {
    return InvalidParameter("connection param " + std::string(key) +
                            " is out of range");
  }
  return std::optional<int>(static_cast<int>(n));
}

Result<ConnectionType> TypeOf(const json::value& v) {
  if (v.is_int64()) return ParseConnectionType(std::to_string(v.as_int64()));
  if (v.is_string()) return ParseConnectionType(v.as_string());
  return InvalidParameter("params.domainType: expected a number or a name");
}

// Records the outcome in the state file; on failure the connections
// concerned are answered as failed.
void Record(const ConnectionMethodsDeps& d, ConnectionType type,
            const std::vector<ConnectionParams>& cons, bool connect,
            std::vector<ConnectionStatus>& statuses) {
  std::vector<spm::SavedConnection> connected;
  std::vector<std::string> disconnected;
  std::vector<size_t> touched;
  for (size_t i = 0; i < cons.size() && i < statuses.size(); ++i) {
    if (connect && statuses[i].status != 0) continue;
    touched.push_back(i);
    if (connect) {
      connected.push_back({type, cons[i]});
    } else {
      disconnected.push_back(cons[i].id);
    }
  }
  if (touched.empty()) return;
  Status s = d.record(type, connected, disconnected);
  if (s.ok()) return;
  log::Error("storage-server", "cannot record storage connections",
             {{"error", s.ToString()}});
  const Status failed(Code::kInternal,
                      std::string(connect ? "connected" : "disconnected") +
                          " but not recorded: " + std::string(s.message()));
  for (size_t i : touched) {
    statuses[i].status = connect ? storage_code::kStorageServerConnectionError
                                 : 452;
    statuses[i].error = failed;
  }
}

MethodSpec ConnectionVerb(
    std::string name, std::string description,
    std::shared_ptr<const ConnectionMethodsDeps> d, bool connect,
    std::vector<ConnectionStatus> (StorageServer::*op)(
        ConnectionType, const std::vector<ConnectionParams>&)) {
  return MethodSpec{
      .name = std::move(name),
      .description = std::move(description),
      .params =
          {{.name = "storagepoolID",
            .type = ParamType::kUuid,
            .presence = Presence::kOptional,
            .description = "Pool (may be the blank UUID; not used: "
                           "connections belong to the host)"},
           {.name = "domainType",
            .type = ParamType::kAny,
            .description = "1 NFS, 4 LOCALFS, 6 POSIXFS (or the name)"},
           {.name = "connectionParams",
            .type = ParamType::kArray,
            .description =
                "connection dicts: `id`, `connection` (path, "
                "server:/export or device), `vfs_type` (POSIXFS), "
                "`mnt_options`, NFS `protocol_version` (default \"3\", "
                "\"auto\"), `retrans`, `timeout` (deciseconds)",
            .max_length = kMaxConnections}},
      .result_description =
          "array of {`id`, `status` (0 or an oVirt error code: 451, 452, "
          "468, 477, 1000), `message` when status is not 0}, one per "
          "connection, in order",
      .execution = Execution::kWorker,
      .handler = [d, connect, op](const json::object& params,
                                  const CallContext&)
          -> Result<json::value> {
        ASSIGN_OR_RETURN(ConnectionType type, TypeOf(params.at("domainType")));
        std::vector<ConnectionParams> cons;
        size_t index = 0;
        for (const json::value& v : params.at("connectionParams").as_array()) {
          Result<ConnectionParams> con = ConnectionParamsFromJson(v);
          if (!con.ok()) {
            return con.status().Annotate("params.connectionParams[" +
                                         std::to_string(index) + "]");
          }
          cons.push_back(std::move(*con));
          ++index;
        }
        StorageServer* server = d->server ? d->server() : nullptr;
        if (server == nullptr) return UnavailableError("agent is starting");
        std::vector<ConnectionStatus> statuses = (server->*op)(type, cons);
        if (d->record) Record(*d, type, cons, connect, statuses);
        const bool connected_any = std::any_of(
            statuses.begin(), statuses.end(),
            [](const ConnectionStatus& s) { return s.status == 0; });
        if (connect && connected_any && d->on_connected) d->on_connected();
        json::array out;
        for (const ConnectionStatus& s : statuses) {
          json::object entry{{"id", s.id}, {"status", s.status}};
          if (s.status != 0) entry["message"] = s.error.message();
          out.push_back(std::move(entry));
        }
        return json::value(std::move(out));
      },
  };
}

}  // namespace

Result<ConnectionParams> ConnectionParamsFromJson(const json::value& value) {
  if (!value.is_object()) return InvalidParameter("expected an object");
  const json::object& o = value.as_object();
  ConnectionParams p;
  auto id = o.find("id");
  if (id == o.end() || !id->value().is_string() ||
      id->value().as_string().empty()) {
    return InvalidParameter("`id` is required (a non-empty string)");
  }
  p.id = std::string(id->value().as_string());
  ASSIGN_OR_RETURN(p.connection, OptionalString(o, "connection", false));
  ASSIGN_OR_RETURN(p.vfs_type, OptionalString(o, "vfs_type", false));
  ASSIGN_OR_RETURN(p.mnt_options, OptionalString(o, "mnt_options", false));
  ASSIGN_OR_RETURN(p.protocol_version,
                   OptionalString(o, "protocol_version", true));
  ASSIGN_OR_RETURN(p.retrans, OptionalInt(o, "retrans"));
  ASSIGN_OR_RETURN(p.timeout, OptionalInt(o, "timeout"));
  return p;
}

void RestoreSavedConnections(StorageServer& server, Env& env,
                             const std::string& state_file) {
  if (state_file.empty()) return;
  Result<std::vector<spm::SavedConnection>> saved =
      spm::LoadSavedConnections(env, state_file);
  if (!saved.ok()) {
    log::Error("storage-server", "cannot read saved storage connections",
               {{"path", state_file}, {"error", saved.status().ToString()}});
    return;
  }
  std::vector<ActiveConnection> held = server.Connections();
  for (const spm::SavedConnection& c : *saved) {
    bool have = false;
    for (const ActiveConnection& a : held) {
      have = have || (a.params.id == c.params.id && a.type == c.type &&
                      a.params == c.params);
    }
    if (have) continue;
    ConnectionStatus st = server.Connect(c.type, {c.params}).front();
    if (st.status == 0) {
      log::Info("storage-server", "saved connection restored",
                {{"id", c.params.id}});
    } else {
      log::Warning("storage-server", "cannot restore a saved connection",
                   {{"id", c.params.id}, {"status", st.status},
                    {"error", st.error.ToString()}});
    }
  }
}

Status RegisterConnectionMethods(MethodRegistry& registry,
                                 ConnectionMethodsDeps deps) {
  auto d = std::make_shared<const ConnectionMethodsDeps>(std::move(deps));
  RETURN_IF_ERROR(registry.Register(ConnectionVerb(
      "StoragePool.connectStorageServer",
      "Connects this host to file storage: LOCALFS links the directory, "
      "POSIXFS and NFS mount it (NFS with oVirt's options: soft, "
      "nosharecache, timeo=100, retrans=3, nfsvers), under "
      "`<storage.repository>/mnt/<escaped connection>`. A connection "
      "already mounted there counts as connected. Each connection gets its "
      "own status, so one failure does not fail the others.",
      d, true, &StorageServer::Connect)));
  return registry.Register(ConnectionVerb(
      "StoragePool.disconnectStorageServer",
      "Disconnects file storage: `umount -f -l` and removal of the mount "
      "directory (or the LOCALFS link). Disconnecting what is not "
      "connected succeeds.",
      d, false, &StorageServer::Disconnect));
}

}  // namespace sanpool::agent
