#include "agent/extend_methods.h"

#include <future>
#include <string>
#include <utility>

#include "agent/monitor_methods.h"
#include "agent/storage_params.h"
#include "spm/pool_errors.h"
#include "spm/local_state.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

ParamSpec Uuid(std::string name, std::string description,
               Presence presence = Presence::kRequired) {
  return ParamSpec{.name = std::move(name),
                   .type = ParamType::kUuid,
                   .presence = presence,
                   .description = std::move(description)};
}

json::value Offset(SteadyTime from, SteadyTime to) {
  if (to == SteadyTime{}) return nullptr;
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The monotonic clock in ms (NotificationHub's notify_time).
double MonotonicMs(SteadyTime t) {
  return std::chrono::duration<double, std::milli>(t.time_since_epoch())
      .count();
}

json::object TimingsJson(const spm::ExtendTimings& t) {
  return {{"queuedAt", MonotonicMs(t.queued)},
          {"sent", Offset(t.queued, t.sent)},
          {"answered", Offset(t.queued, t.answered)},
          {"extended", Offset(t.queued, t.extended)},
          {"reloaded", Offset(t.queued, t.reloaded)}};
}

Result<json::value> Extend(const ExtendMethodsDeps* deps,
                           const json::object& p) {
  if (deps->service == nullptr) {
    return UnavailableError("extend service is not started");
  }
  ASSIGN_OR_RETURN(int64_t size, SizeParam(p.at("newSize"), "newSize"));
  if (size <= 0) return InvalidArgumentError("newSize must be positive");
  mailbox::ExtendRequest request{StringParam(p, "storagedomainID"),
                                 StringParam(p, "imageID"),
                                 StringParam(p, "volumeID"),
                                 static_cast<uint64_t>(size)};
  std::future<spm::ExtendResult> done = deps->service->Extend(request);
  if (done.wait_for(deps->timeout) != std::future_status::ready) {
    return Status(Code::kDeadlineExceeded,
                  "extend still running after " +
                      std::to_string(deps->timeout.count()) +
                      " ms; Volume.extended will report it");
  }
  spm::ExtendResult result = done.get();
  RETURN_IF_ERROR(result.status);
  return json::value(ExtendResultJson(result));
}

}  // namespace

json::object ExtendResultJson(const spm::ExtendResult& r) {
  return {{"newSize", r.size_bytes},
          {"path", spm::ToString(r.path)},
          {"timings", TimingsJson(r.timings)}};
}

Status RegisterExtendMethods(MethodRegistry& registry,
                             const ExtendMethodsDeps* deps) {
  return registry.Register(MethodSpec{
      .name = "Volume.extend",
      .description =
          "Grows a thin block volume's LV to newSize bytes (absolute; "
          "idempotent) from any host: directly on the SPM, through the "
          "pool's storage mailbox elsewhere; returns once the LV is extended "
          "and this host's mapping reloaded (kDeadlineExceeded after "
          "mailbox.extend_timeout_s; the extend goes on and is reported by "
          "Volume.extended). VG full: resource exhausted.",
      .params = {Uuid("storagedomainID", "Storage domain UUID (the VG)"),
                 Uuid("storagepoolID", "Storage pool UUID",
                      Presence::kOptional),
                 Uuid("imageID", "Image UUID"),
                 Uuid("volumeID", "Volume UUID (the LV)"),
                 ParamSpec{.name = "newSize",
                           .type = ParamType::kAny,
                           .description = "LV size wanted in bytes (decimal "
                                          "string or integer; sent rounded "
                                          "up to MiB)"}},
      .result_description =
          "object: `newSize` (bytes this host now sees), `path` "
          "(local/mailbox), `timings` (ms from the request to `sent`, "
          "`answered`, `extended`, `reloaded`; null if not reached; "
          "`queuedAt`: the request on this host's monotonic clock, ms)",
      .execution = Execution::kWorker,
      .handler = [deps](const json::object& p, const CallContext&) {
        return Extend(deps, p);
      },
  });
}

spm::ExtendCallback ExtendedPublisher(NotificationHub& hub) {
  return [&hub](const spm::ExtendResult& r) {
    json::object params = ExtendResultJson(r);
    params["storagedomainID"] = r.request.domain_uuid;
    params["imageID"] = r.request.image_uuid;
    params["volumeID"] = r.request.volume_uuid;
    params["requestedSize"] = r.request.target_bytes;
    params["ok"] = r.status.ok();
    if (!r.status.ok()) {
      params["code"] = r.status.storage_code();
      params["message"] = r.status.message();
    }
    hub.Publish(kVolumeExtendedEvent, std::move(params));
  };
}

spm::BatchObserver LvExtendedPublisher(NotificationHub& hub) {
  return [&hub](const spm::BatchedExtend& b) {
    json::object params{{"storagedomainID", b.request.domain_uuid},
                        {"volumeID", b.request.volume_uuid},
                        {"requestedSize", b.request.target_bytes},
                        {"newSize", b.size_bytes},
                        {"ok", b.status.ok()},
                        {"submittedAt", MonotonicMs(b.submitted)},
                        {"startedAt", MonotonicMs(b.started)},
                        {"finishedAt", MonotonicMs(b.finished)}};
    if (!b.status.ok()) {
      params["code"] = b.status.storage_code();
      params["message"] = b.status.message();
    }
    hub.Publish(kVolumeLvExtendedEvent, std::move(params));
  };
}

spm::LocateMailboxFn PoolMailboxLocator(Env& env, std::string state_file,
                                        MailboxFilesFn files) {
  return [&env, state_file = std::move(state_file),
          files = std::move(files)]() -> Result<spm::MailboxLocation> {
    ASSIGN_OR_RETURN(std::optional<spm::LocalState> state,
                     spm::LoadLocalState(env, state_file));
    if (!state) {
      return Status(Code::kFailedPrecondition,
                    "not connected to a storage pool",
                    spm::pool_code::kStoragePoolUnknown);
    }
    ASSIGN_OR_RETURN(MailboxFiles f, files(state->master_sd));
    return spm::MailboxLocation{f.inbox, f.outbox,
                                static_cast<int>(state->host_id)};
  };
}

ExtendRoleForwarder::OnChange ExtendRoleForwarder::Wrap(OnChange next) {
  return [this, next = std::move(next)](const std::string& pool,
                                        const spm::SpmStatus& status) {
    Notify();  // first: serving stops before anything else is told
    if (next) next(pool, status);
  };
}

ExtendRoleForwarder::Attachment ExtendRoleForwarder::Attach(
    spm::ExtendService* service) {
  Set(service);
  Notify();  // a change before the attach is seen now
  return Attachment(this);
}

void ExtendRoleForwarder::Notify() {
  MutexLock lock(mu_);
  if (service_ != nullptr) service_->OnRoleChanged();
}

void ExtendRoleForwarder::Set(spm::ExtendService* service) {
  MutexLock lock(mu_);
  service_ = service;
}

MailboxFilesFn FileDomainMailboxFiles(Env& env, std::string repository) {
  return [&env, repository = std::move(repository)](
             const std::string& sd) -> Result<MailboxFiles> {
    ASSIGN_OR_RETURN(std::string metadata,
                     FindFileDomainMetadata(env, repository, sd));
    const std::string dir = metadata.substr(0, metadata.rfind('/') + 1);
    return MailboxFiles{dir + "inbox", dir + "outbox"};
  };
}

}  // namespace sanpool::agent
