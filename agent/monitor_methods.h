// Domain monitoring over JSON-RPC, metrics and notifications: the agent side
// of domains/monitor/domain_monitor.h.
//
//   Host.getStorageRepoStats([domains])  -> {sdUUID: repoStats, ...}   (inline)
//   Host.startMonitoringDomain(sdUUID)   -> true                       (worker)
//   Host.stopMonitoringDomain(sdUUID)    -> true                       (inline)
//
// repoStats per domain, with oVirt's names and types (reference §8):
//   {"code": 0 | storage error code, "lastCheck": "%.1f" seconds (string),
//    "delay": read delay in seconds (string), "valid": bool,
//    "version": int (-1 unknown), "acquired": bool, "actual": bool,
//    "error": message ("" when valid)}
//
// startMonitoringDomain resolves the domain's metadata path through the
// function main.cc passes in (it lists mount dirs: blocking, so the verb runs
// on a worker) and does not wait for the first check: until it finishes the
// domain reports actual = false, as in oVirt. Monitoring the same domain
// twice is a no-op (oVirt's behaviour), stopping an unmonitored one fails.
//
// Metrics, appended to GET /metrics by InstallDomainMetrics():
//   sanpool_domain_valid{sd}                      gauge 1/0
//   sanpool_domain_read_delay_seconds{sd}         gauge
//   sanpool_domain_last_check_age_seconds{sd}     gauge
// Notifications: DomainStateNotifier() publishes
//   StorageDomain.stateChanged {"sdUUID", "valid", "error"}
// whenever a domain's validity changes (and at its first result).
//
// Thread-safety: handlers and the renderer only take the monitor's short
// locks; they may run concurrently on any thread.
#ifndef SANPOOL_AGENT_MONITOR_METHODS_H_
#define SANPOOL_AGENT_MONITOR_METHODS_H_

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/method_registry.h"
#include "agent/metrics.h"
#include "agent/notifications.h"
#include "base/env.h"
#include "base/status.h"
#include "domains/monitor/domain_monitor.h"

namespace sanpool::agent {

inline constexpr char kDomainStateChanged[] = "StorageDomain.stateChanged";

// Returns the monitoring path of a domain (`.../dom_md/metadata`), or
// kNotFound with storage code 358 when this host cannot see the domain.
// May block on storage.
using MetadataPathResolver =
    std::function<Result<std::string>(std::string_view sd_uuid)>;

// Functions rather than objects because main.cc registers the methods before
// it has loaded the configuration the monitor is built from.
struct MonitorMethodsDeps {
  // The monitor, or null while there is none (the verbs then fail with
  // kUnavailable). Required.
  std::function<monitor::DomainMonitor*()> monitor;
  MetadataPathResolver resolve_metadata_path;  // required
  // Whether the domain's path is checked as kOpaque (a block domain's
  // metadata LV) rather than parsed as file metadata. Optional (empty: never).
  std::function<bool(std::string_view sd_uuid)> is_opaque;
};

// Registers the three methods. Errors: MethodRegistry::Register's.
Status RegisterMonitorMethods(MethodRegistry& registry, MonitorMethodsDeps deps);

// One domain's repoStats object (format above).
boost::json::object RepoStatsJson(const monitor::DomainStatus& status);

// The Prometheus text of the three per-domain gauges (HELP/TYPE lines
// always, one sample per domain and gauge, in the given order).
std::string RenderDomainMetrics(const std::vector<monitor::DomainStatus>& stats);

// Adds RenderDomainMetrics(monitor.Stats()) to every rendering of `metrics`.
// REQUIRES: startup (see Metrics::AddCollector); `monitor` outlives `metrics`.
void InstallDomainMetrics(Metrics& metrics, const monitor::DomainMonitor& monitor);

// A DomainMonitor state callback that publishes StorageDomain.stateChanged on
// `hub`, which must outlive the monitor.
monitor::DomainMonitor::StateCallback DomainStateNotifier(NotificationHub& hub);

// The default resolver for file domains: the first
// `<repository>/mnt/<dir>/<sd_uuid>` (or `mnt/glusterSD/<dir>/<sd_uuid>`)
// directory, in name order, plus "/dom_md/metadata". The metadata file need
// not exist or parse (the monitor reports that). kInvalidArgument for a
// non-canonical UUID; kNotFound (358) if no mount dir holds the domain.
Result<std::string> FindFileDomainMetadata(Env& env,
                                           const std::string& repository,
                                           std::string_view sd_uuid);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_MONITOR_METHODS_H_
