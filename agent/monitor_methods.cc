#include "agent/monitor_methods.h"

#include <boost/json/array.hpp>
#include <cstdio>
#include <memory>
#include <set>

#include "base/uuid.h"
#include "domains/storage_errors.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using monitor::DomainStatus;

std::string Format(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

Result<monitor::DomainMonitor*> MonitorOf(const MonitorMethodsDeps& deps) {
  monitor::DomainMonitor* m = deps.monitor();
  if (m == nullptr) return UnavailableError("domain monitoring is not running");
  return m;
}

Status DomainNotFound(std::string_view sd_uuid) {
  return Status(Code::kNotFound,
                "storage domain " + std::string(sd_uuid) + " not found",
                storage_code::kStorageDomainDoesNotExist);
}

void AppendGauge(std::string& out, std::string_view name, std::string_view help,
                 const std::vector<DomainStatus>& stats,
                 double (*value)(const DomainStatus&)) {
  out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
  out += "# TYPE " + std::string(name) + " gauge\n";
  for (const DomainStatus& s : stats) {
    out += std::string(name) + "{sd=\"" + s.sd_uuid + "\"} " +
           Format("%.6f", value(s)) + "\n";
  }
}

}  // namespace

json::object RepoStatsJson(const DomainStatus& s) {
  json::object o;
  o["code"] = s.code;
  o["lastCheck"] = Format("%.1f", s.last_check_age_s);
  o["delay"] = Format("%.6f", s.read_delay_s);
  o["valid"] = s.valid;
  o["version"] = s.version;
  o["acquired"] = s.acquired;
  o["actual"] = s.actual;
  o["error"] = s.error;
  return o;
}

std::string RenderDomainMetrics(const std::vector<DomainStatus>& stats) {
  std::string out;
  AppendGauge(out, "sanpool_domain_valid",
              "1 if the domain's last monitoring check succeeded.", stats,
              [](const DomainStatus& s) { return s.valid ? 1.0 : 0.0; });
  AppendGauge(out, "sanpool_domain_read_delay_seconds",
              "Duration of the domain's last metadata read (O_DIRECT).", stats,
              [](const DomainStatus& s) { return s.read_delay_s; });
  AppendGauge(out, "sanpool_domain_last_check_age_seconds",
              "Seconds since the domain's last monitoring result.", stats,
              [](const DomainStatus& s) { return s.last_check_age_s; });
  return out;
}

void InstallDomainMetrics(Metrics& metrics,
                          const monitor::DomainMonitor& monitor) {
  metrics.AddCollector(
      [&monitor] { return RenderDomainMetrics(monitor.Stats()); });
}

monitor::DomainMonitor::StateCallback DomainStateNotifier(NotificationHub& hub) {
  return [&hub](const DomainStatus& s) {
    hub.Publish(kDomainStateChanged,
                json::object{{"sdUUID", s.sd_uuid},
                             {"valid", s.valid},
                             {"error", s.error}});
  };
}

Result<std::string> FindFileDomainMetadata(Env& env,
                                           const std::string& repository,
                                           std::string_view sd_uuid) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  const std::string mnt = JoinPath(repository, "mnt");
  Result<std::vector<std::string>> names = env.ListDir(mnt);
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) return DomainNotFound(sd_uuid);
    return names.status();
  }
  std::vector<std::string> mount_dirs;
  for (const std::string& name : *names) {
    if (name == "blockSD") continue;
    if (name != "glusterSD") {
      mount_dirs.push_back(JoinPath(mnt, name));
      continue;
    }
    Result<std::vector<std::string>> gluster = env.ListDir(JoinPath(mnt, name));
    if (!gluster.ok()) continue;  // not a directory, or gone
    for (const std::string& g : *gluster) {
      mount_dirs.push_back(JoinPath(JoinPath(mnt, name), g));
    }
  }
  for (const std::string& dir : mount_dirs) {
    std::string domain_dir = JoinPath(dir, sd_uuid);
    Result<FileStat> st = env.Stat(domain_dir);
    if (st.ok() && st->type == FileType::kDirectory) {
      return JoinPath(JoinPath(domain_dir, "dom_md"), "metadata");
    }
  }
  return DomainNotFound(sd_uuid);
}

Status RegisterMonitorMethods(MethodRegistry& registry, MonitorMethodsDeps deps) {
  auto d = std::make_shared<const MonitorMethodsDeps>(std::move(deps));
  RETURN_IF_ERROR(registry.Register(MethodSpec{
      .name = "Host.getStorageRepoStats",
      .description =
          "Monitoring status of the storage domains this host monitors "
          "(oVirt's repoStats): one O_DIRECT read of each domain's metadata "
          "every monitor.interval_s.",
      .params = {{.name = "domains",
                  .type = ParamType::kArray,
                  .presence = Presence::kOptional,
                  .description = "Only these sdUUIDs (unmonitored ones are "
                                 "left out); all when absent",
                  .max_length = 10000}},
      .result_description =
          "object keyed by sdUUID: {`code` (0 or a storage error code), "
          "`lastCheck` (seconds since the last result, string \"%.1f\"), "
          "`delay` (last read delay in seconds, string), `valid`, `version` "
          "(-1 unknown), `acquired` (host id held in the domain's lockspace), "
          "`actual` (false until the first check finished), `error`}",
      .execution = Execution::kInline,
      .handler = [d](const json::object& params, const CallContext&)
          -> Result<json::value> {
        std::set<std::string, std::less<>> wanted;
        const bool filter = params.contains("domains");
        if (filter) {
          for (const json::value& v : params.at("domains").as_array()) {
            if (!v.is_string()) {
              return InvalidParameter("params.domains: expected UUID strings");
            }
            wanted.emplace(v.as_string().c_str());
          }
        }
        ASSIGN_OR_RETURN(monitor::DomainMonitor * monitor, MonitorOf(*d));
        json::object out;
        for (const DomainStatus& s : monitor->Stats()) {
          if (filter && wanted.count(s.sd_uuid) == 0) continue;
          out[s.sd_uuid] = RepoStatsJson(s);
        }
        return json::value(std::move(out));
      },
  }));
  RETURN_IF_ERROR(registry.Register(MethodSpec{
      .name = "Host.startMonitoringDomain",
      .description =
          "Starts monitoring a storage domain without a pool (oVirt's "
          "deprecated verb for external domains). Returns before the first "
          "check; repoStats shows actual = false until it finishes. "
          "Monitoring an already monitored domain is a no-op.",
      .params = {{.name = "sdUUID",
                  .type = ParamType::kUuid,
                  .description = "Storage domain"},
                 {.name = "hostID",
                  .type = ParamType::kInt,
                  .presence = Presence::kOptional,
                  .description = "Host id for the domain's lockspace "
                                 "(accepted for compatibility; lockspaces "
                                 "are joined by the lease layer)",
                  .min = 1,
                  .max = 2000}},
      .result_description = "`true`",
      .execution = Execution::kWorker,
      .handler = [d](const json::object& params, const CallContext&)
          -> Result<json::value> {
        ASSIGN_OR_RETURN(monitor::DomainMonitor * monitor, MonitorOf(*d));
        std::string sd(params.at("sdUUID").as_string());
        if (monitor->IsMonitored(sd)) return json::value(true);
        ASSIGN_OR_RETURN(std::string path, d->resolve_metadata_path(sd));
        const monitor::PathContent content =
            d->is_opaque && d->is_opaque(sd)
                ? monitor::PathContent::kOpaque
                : monitor::PathContent::kFileDomainMetadata;
        Status added = monitor->Add(sd, path, content);
        if (!added.ok() && added.code() != Code::kAlreadyExists) return added;
        return json::value(true);
      },
  }));
  return registry.Register(MethodSpec{
      .name = "Host.stopMonitoringDomain",
      .description = "Stops monitoring a storage domain started with "
                     "Host.startMonitoringDomain; a check in progress is "
                     "abandoned.",
      .params = {{.name = "sdUUID",
                  .type = ParamType::kUuid,
                  .description = "Storage domain"}},
      .result_description = "`true`",
      .execution = Execution::kInline,
      .handler = [d](const json::object& params, const CallContext&)
          -> Result<json::value> {
        ASSIGN_OR_RETURN(monitor::DomainMonitor * monitor, MonitorOf(*d));
        std::string sd(params.at("sdUUID").as_string());
        Status removed = monitor->Remove(sd);
        if (removed.code() == Code::kNotFound) {
          return Status(Code::kNotFound,
                        "storage domain " + sd + " is not monitored",
                        storage_code::kStorageDomainDoesNotExist);
        }
        RETURN_IF_ERROR(removed);
        return json::value(true);
      },
  });
}

}  // namespace sanpool::agent
