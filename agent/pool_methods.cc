#include "agent/pool_methods.h"

#include <boost/json/array.hpp>
#include <charconv>
#include <utility>

#include "agent/storage_params.h"
#include "base/uuid.h"
#include "spm/pool_errors.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using Params = json::object;

ParamSpec Uuid(std::string name, std::string description,
               Presence presence = Presence::kRequired) {
  return {.name = std::move(name), .type = ParamType::kUuid,
          .presence = presence, .description = std::move(description)};
}
ParamSpec Any(std::string name, std::string description,
              Presence presence = Presence::kOptional) {
  return {.name = std::move(name), .type = ParamType::kAny,
          .presence = presence, .description = std::move(description)};
}
ParamSpec Sp() { return Uuid("storagepoolID", "Storage pool UUID"); }
ParamSpec Sd() { return Uuid("storagedomainID", "Storage domain UUID"); }

// An integer given as a JSON number or a decimal string.
Result<int64_t> IntParam(const Params& p, std::string_view name,
                         std::optional<int64_t> fallback = std::nullopt) {
  auto it = p.find(name);
  if (it == p.end() || it->value().is_null()) {
    if (fallback) return *fallback;
    return InvalidArgumentError(std::string(name) + " is required");
  }
  const json::value& v = it->value();
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= INT64_MAX) {
    return static_cast<int64_t>(v.as_uint64());
  }
  if (v.is_string()) {
    std::string_view s = v.as_string();
    int64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) {
      return out;
    }
  }
  return InvalidArgumentError(std::string(name) + " is not an integer");
}

Status NotStarted() { return UnavailableError("pool services not started"); }

json::value Null() { return json::value(nullptr); }

Result<std::vector<std::string>> DomainList(const Params& p) {
  std::vector<std::string> out;
  auto it = p.find("domainList");
  if (it == p.end()) return out;
  auto add = [&](std::string_view sd) -> Status {
    if (sd.empty()) return Status::Ok();
    RETURN_IF_ERROR(ValidateUuid(sd, "domainList"));
    out.emplace_back(sd);
    return Status::Ok();
  };
  if (it->value().is_array()) {
    for (const json::value& v : it->value().as_array()) {
      if (!v.is_string()) return InvalidArgumentError("domainList: not UUIDs");
      RETURN_IF_ERROR(add(v.as_string()));
    }
  } else if (it->value().is_string()) {
    std::string_view s = it->value().as_string();
    while (!s.empty()) {
      size_t comma = s.find(',');
      RETURN_IF_ERROR(add(s.substr(0, comma)));
      s = comma == std::string_view::npos ? "" : s.substr(comma + 1);
    }
  } else {
    return InvalidArgumentError("domainList must be an array or a string");
  }
  return out;
}

json::object StatusJson(const spm::SpmStatus& s) {
  return {{"spmStatus", spm::ToString(s.state)},
          {"spmLver", s.lver},
          {"spmId", s.spm_id}};
}

json::object InfoJson(const spm::PoolInfo& info) {
  std::string domains;
  for (const auto& [sd, status] : info.domains) {
    if (!domains.empty()) domains += ",";
    domains += sd + ":" + status;
  }
  json::object dominfo;
  for (const auto& [sd, d] : info.dominfo) {
    dominfo[sd] = json::object{{"status", d.status},
                               {"version", d.version},
                               {"disktotal", std::to_string(d.disk_total)},
                               {"diskfree", std::to_string(d.disk_free)},
                               {"alerts", json::array()},
                               {"isoprefix", ""},
                               {"acquired", d.acquired}};
  }
  return {{"info", json::object{{"name", info.name},
                                {"type", info.type},
                                {"master_uuid", info.master_uuid},
                                {"master_ver", info.master_version},
                                {"lver", info.lver},
                                {"spm_id", info.spm_id},
                                {"version", std::to_string(info.version)},
                                {"domains", domains},
                                {"isoprefix", ""},
                                {"pool_status", "connected"}}},
          {"dominfo", std::move(dominfo)}};
}

using Fn = std::function<Result<json::value>(const PoolServices*,
                                             const Params&)>;

Status Add(MethodRegistry& registry, const PoolServices* s, std::string name,
           std::string description, std::vector<ParamSpec> params,
           std::string result, Fn fn) {
  return registry.Register(MethodSpec{
      .name = std::move(name),
      .description = std::move(description),
      .params = std::move(params),
      .result_description = std::move(result),
      .execution = Execution::kWorker,
      .handler = [s, fn = std::move(fn)](const Params& p, const CallContext&)
          -> Result<json::value> {
        if (s->pool == nullptr || s->spm == nullptr) return NotStarted();
        return fn(s, p);
      },
  });
}

Status RegisterStoragePoolVerbs(MethodRegistry& r, const PoolServices* s) {
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.create",
      "Creates a pool: the master domain gets the pool metadata, every "
      "domain POOL_UUID and (if new) its lockspace and SDM lease areas.",
      {Sp(), {.name = "name", .description = "Pool description (<= 50)",
              .max_length = 200},
       Uuid("masterSdUUID", "Master domain UUID"),
       Any("masterVersion", "Master version (integer)", Presence::kRequired),
       Any("domainList", "Domain UUIDs: array or comma-separated"),
       Any("lockRenewalIntervalSec", "Accepted, unused"),
       Any("leaseTimeSec", "Accepted, unused"),
       Any("ioOpTimeoutSec", "Accepted, unused"),
       Any("leaseRetries", "Accepted, unused")},
      "null",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        spm::CreatePoolParams c;
        c.pool_uuid = StringParam(p, "storagepoolID");
        c.name = StringParam(p, "name");
        c.master_sd = StringParam(p, "masterSdUUID");
        ASSIGN_OR_RETURN(c.master_version, IntParam(p, "masterVersion"));
        ASSIGN_OR_RETURN(c.domains, DomainList(p));
        RETURN_IF_ERROR(s->pool->Create(c));
        return Null();
      }));
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.connect",
      "Joins the pool as hostID: saves the local state, monitors the "
      "active domains, joins their lockspaces, contends for SPM (spm.auto).",
      {Sp(), Any("hostID", "Host id 1..2000", Presence::kRequired),
       Any("scsiKey", "Ignored"), Uuid("masterSdUUID", "Master domain UUID"),
       Any("masterVersion", "Expected MASTER_VERSION", Presence::kRequired),
       Any("domainDict", "Ignored: the master's POOL_DOMAINS is used")},
      "null",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        spm::ConnectParams c;
        c.pool_uuid = StringParam(p, "storagepoolID");
        ASSIGN_OR_RETURN(int64_t host_id, IntParam(p, "hostID"));
        if (host_id < 1) return InvalidArgumentError("hostID must be >= 1");
        c.host_id = static_cast<uint64_t>(host_id);
        c.master_sd = StringParam(p, "masterSdUUID");
        ASSIGN_OR_RETURN(c.master_version, IntParam(p, "masterVersion"));
        RETURN_IF_ERROR(s->pool->Connect(c));
        return Null();
      }));
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.disconnect",
      "Leaves the pool and forgets the local state. Refused (315) while "
      "this host is SPM unless force is true.",
      {Sp(), Any("hostID", "Ignored"), Any("scsiKey", "Ignored"),
       Any("remove", "Ignored"),
       {.name = "force", .type = ParamType::kBool,
        .presence = Presence::kOptional,
        .description = "Stop the SPM role first"}},
      "null",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(bool force, BoolParam(p, "force", false));
        RETURN_IF_ERROR(s->pool->Disconnect(
            StringParam(p, "storagepoolID"),
            force ? spm::StopMode::kForce : spm::StopMode::kNormal));
        return Null();
      }));
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.refresh",
      "Re-reads the master's pool metadata and follows its domain list.",
      {Sp(), Uuid("masterSdUUID", "Master domain UUID"),
       Any("masterVersion", "Expected MASTER_VERSION", Presence::kRequired)},
      "null",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(int64_t version, IntParam(p, "masterVersion"));
        RETURN_IF_ERROR(s->pool->Refresh(StringParam(p, "storagepoolID"),
                                         StringParam(p, "masterSdUUID"),
                                         version));
        return Null();
      }));
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.getInfo", "The pool and its domains.", {Sp()},
      "{info:{name,type,master_uuid,master_ver,lver,spm_id,version,domains,"
      "isoprefix,pool_status}, dominfo:{sd:{status,version,disktotal,"
      "diskfree,alerts,isoprefix,acquired}}}",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(spm::PoolInfo info,
                         s->pool->GetInfo(StringParam(p, "storagepoolID")));
        return json::value(InfoJson(info));
      }));
  return Status::Ok();
}

Status RegisterSpmVerbs(MethodRegistry& r, const PoolServices* s) {
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.spmStart",
      "Contends for the SDM lease now. prevLver >= 0: the lease version must "
      "still be prevLver; prevID >= 0: the lease must be free or held by "
      "prevID (657 otherwise).",
      {Sp(), Any("prevID", "Previous SPM host id or -1", Presence::kRequired),
       Any("prevLver", "Previous lease version or -1", Presence::kRequired),
       Any("enableScsiFencing", "Ignored"), Any("maxHostID", "Ignored"),
       Any("domVersion", "Ignored")},
      "task UUID",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        if (s->tasks == nullptr) return NotStarted();
        std::string sp = StringParam(p, "storagepoolID");
        if (s->pool->connected_pool() != sp) {
          return spm::PoolNotConnectedError(sp);
        }
        spm::SpmStartParams start;
        ASSIGN_OR_RETURN(start.prev_id, IntParam(p, "prevID"));
        ASSIGN_OR_RETURN(start.prev_lver, IntParam(p, "prevLver"));
        if (s->spm->HoldsRole()) {
          return Status(Code::kAlreadyExists, "this host is already SPM",
                        spm::pool_code::kIsSpm);
        }
        spm::Spm* role = s->spm;
        ASSIGN_OR_RETURN(std::string id,
                         s->tasks->Schedule(
                             "StoragePool.spmStart", {"hsm"},
                             [role, start](spm::JobContext&) -> Status {
                               return role->Start(start).status();
                             }));
        return json::value(id);
      }));
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.spmStop",
      "Gives the SPM role up (refused with 403 while SPM tasks run unless "
      "force).",
      {Sp(), {.name = "force", .type = ParamType::kBool,
              .presence = Presence::kOptional,
              .description = "Stop running SPM tasks"}},
      "null",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        std::string sp = StringParam(p, "storagepoolID");
        if (s->pool->connected_pool() != sp) {
          return spm::PoolNotConnectedError(sp);
        }
        ASSIGN_OR_RETURN(bool force, BoolParam(p, "force", false));
        RETURN_IF_ERROR(s->spm->Stop(force ? spm::StopMode::kForce
                                           : spm::StopMode::kNormal));
        return Null();
      }));
  RETURN_IF_ERROR(Add(
      r, s, "StoragePool.getSpmStatus",
      "This host's role and the SDM lease's version and owner.", {Sp()},
      "{spmStatus: SPM|Contend|Free, spmLver, spmId}",
      [](const PoolServices* s, const Params& p) -> Result<json::value> {
        std::string sp = StringParam(p, "storagepoolID");
        if (s->pool->connected_pool() != sp) {
          return spm::PoolNotConnectedError(sp);
        }
        ASSIGN_OR_RETURN(spm::SpmStatus st, s->spm->GetStatus());
        return json::value(StatusJson(st));
      }));
  return Status::Ok();
}

using DomainVerb = Status (spm::StoragePool::*)(std::string_view,
                                                 std::string_view);

Status RegisterDomainVerbs(MethodRegistry& r, const PoolServices* s) {
  struct Verb {
    const char* name;
    const char* description;
    DomainVerb fn;
  };
  const Verb verbs[] = {
      {"StorageDomain.attach",
       "Adds a domain that is in no pool as Attached [SPM].",
       &spm::StoragePool::AttachDomain},
      {"StorageDomain.activate",
       "Attached -> Active: monitored, lockspace joined [SPM].",
       &spm::StoragePool::ActivateDomain},
      {"StorageDomain.deactivate",
       "Active -> Attached (not the master) [SPM].",
       &spm::StoragePool::DeactivateDomain},
      {"StorageDomain.detach",
       "Removes an Attached domain from the pool [SPM].",
       &spm::StoragePool::DetachDomain},
  };
  for (const Verb& v : verbs) {
    DomainVerb fn = v.fn;
    RETURN_IF_ERROR(Add(
        r, s, v.name, v.description,
        {Sd(), Sp(), Uuid("masterSdUUID", "Ignored", Presence::kOptional),
         Any("masterVersion", "Ignored"), Any("force", "Ignored")},
        "null",
        [fn](const PoolServices* s, const Params& p) -> Result<json::value> {
          RETURN_IF_ERROR((s->pool->*fn)(StringParam(p, "storagepoolID"),
                                         StringParam(p, "storagedomainID")));
          return Null();
        }));
  }
  return Status::Ok();
}

}  // namespace

Status RegisterPoolMethods(MethodRegistry& registry,
                           const PoolServices* services) {
  RETURN_IF_ERROR(RegisterStoragePoolVerbs(registry, services));
  RETURN_IF_ERROR(RegisterSpmVerbs(registry, services));
  return RegisterDomainVerbs(registry, services);
}

std::function<void(const std::string&, const spm::SpmStatus&)>
SpmChangePublisher(NotificationHub& hub) {
  return [&hub](const std::string& pool, const spm::SpmStatus& status) {
    json::object params = StatusJson(status);
    params["storagepoolID"] = pool;
    hub.Publish(kSpmChangedEvent, std::move(params));
  };
}

}  // namespace sanpool::agent
