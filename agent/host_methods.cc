#include "agent/host_methods.h"

#include <openssl/crypto.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/version.hpp>

#include "agent/metrics.h"

#ifndef SANPOOL_VERSION
#define SANPOOL_VERSION "unknown"
#endif

namespace sanpool::agent {
namespace {

namespace json = boost::json;

json::value Capabilities() {
  json::object build;
  build["compiler"] = __VERSION__;
  build["boost"] = std::to_string(BOOST_VERSION / 100000) + "." +
                   std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                   std::to_string(BOOST_VERSION % 100);
  build["openssl"] = OpenSSL_version(OPENSSL_VERSION);
  json::object caps;
  caps["version"] = SANPOOL_VERSION;
  caps["build"] = std::move(build);
  caps["storage_domain_types"] =
      json::array{"LOCALFS", "POSIXFS", "NFS", "FCP", "ISCSI"};
  caps["storage_domain_versions"] = json::array{5};
  caps["block_domain_versions"] = json::array{5};
  caps["file_domain_versions"] = json::array{5};
  caps["dm_backends"] = json::array{"user", "kernel"};
  return caps;
}

}  // namespace

Status RegisterHostMethods(MethodRegistry& registry, HostMethodsDeps deps) {
  RETURN_IF_ERROR(registry.Register(MethodSpec{
      .name = "Host.ping",
      .description = "Returns at once; for liveness checks and benchmarks.",
      .params = {},
      .result_description = "`true`",
      .execution = Execution::kInline,
      .handler = [](const json::object&, const CallContext&)
          -> Result<json::value> { return json::value(true); },
  }));
  // Built once: it never changes while the process runs.
  auto caps = std::make_shared<const json::value>(Capabilities());
  RETURN_IF_ERROR(registry.Register(MethodSpec{
      .name = "Host.getCapabilities",
      .description = "What this agent supports: version and build, storage "
                     "domain types and format versions, device-mapper backends.",
      .params = {},
      .result_description =
          "object: `version`, `build` {compiler, boost, openssl}, "
          "`storage_domain_types`, `storage_domain_versions`, "
          "`block_domain_versions`, `file_domain_versions`, `dm_backends`",
      .execution = Execution::kInline,
      .handler = [caps](const json::object&, const CallContext&)
          -> Result<json::value> { return *caps; },
  }));
  auto d = std::make_shared<const HostMethodsDeps>(std::move(deps));
  return registry.Register(MethodSpec{
      .name = "Host.getStats",
      .description = "Process statistics of the agent.",
      .params = {},
      .result_description =
          "object: `uptime_s` (seconds since start), `rss_bytes` (resident "
          "memory), `requests_total` (RPC requests served), `in_flight` "
          "(requests being handled), `connections` (open client connections)",
      .execution = Execution::kInline,
      .handler = [d](const json::object&, const CallContext&)
          -> Result<json::value> {
        auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::steady_clock::now() - d->start_time);
        ServerStats stats = d->server_stats ? d->server_stats() : ServerStats{};
        json::object out;
        out["uptime_s"] = uptime.count();
        out["rss_bytes"] = Metrics::ReadProcessRss();
        out["requests_total"] = d->requests_total ? d->requests_total() : 0;
        out["in_flight"] = d->in_flight ? d->in_flight() : 0;
        out["connections"] = stats.connections;
        return json::value(std::move(out));
      },
  });
}

}  // namespace sanpool::agent
