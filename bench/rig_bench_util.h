// Driving a `sanpool rig` (tools/rig/rig.h) from a bench: JSON-RPC calls
// that turn agent errors into Status, the SPM's whereabouts, a pool with a
// file master on the rig's NAS, task waits, and a run that always ends with
// `rig down`. Shared by failover-bench and extend-rig-bench.
//
// Thread-safety: the functions keep no state; Rig calls block (rig.h), and
// RigCall may be used from several threads at once (one connection each).
#ifndef SANPOOL_BENCH_RIG_BENCH_UTIL_H_
#define SANPOOL_BENCH_RIG_BENCH_UTIL_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "base/status.h"
#include "tools/rig/rig.h"

namespace sanpool::bench {

inline constexpr std::chrono::seconds kRigCallTimeout{30};

// `method` on host `host`'s agent (its Unix socket): the result, or
// kUnknown "host H METHOD: message" for a JSON-RPC error (the storage code
// kept as the Status' storage code), or the transport's error.
Result<boost::json::value> RigCall(
    rig::Rig& r, int host, const std::string& method,
    const boost::json::value& params,
    std::chrono::seconds timeout = kRigCallTimeout);

// "SPM", "Free", "Contend" as host `host` sees pool `pool`; "" when it
// cannot answer.
std::string SpmState(rig::Rig& r, int host, const std::string& pool);

// The first of `hosts` that reports SPM for `pool`, polling every 20 ms;
// 0 when none did within `limit`.
int WaitForSpm(rig::Rig& r, const std::vector<int>& hosts,
               const std::string& pool, std::chrono::seconds limit);

// Hosts 1..hosts connect the rig's NAS (LOCALFS), host 1 creates a file
// master domain `master` on it and the pool `pool` (master version 1), and
// every host connects to the pool as host id = its index (spm.auto makes
// one of them SPM).
Status SetUpFilePool(rig::Rig& r, int hosts, const std::string& pool,
                     const std::string& master);

// Polls Task.getStatus of `task` on `host` every 50 ms until finished;
// kUnknown with the task's message when it did not succeed,
// kDeadlineExceeded after `limit`.
Status WaitTask(rig::Rig& r, int host, const std::string& task,
                std::chrono::seconds limit);

// Tears down whatever rig an interrupted run left in r's directory, brings
// the rig up with `up`, runs `body`, and always brings it down again
// (also when Up or body failed). Returns the first error of Up/body, else
// that of the final Down. `name` prefixes the messages on stderr.
Status RunOnRig(rig::Rig& r, const rig::UpOptions& up,
                const std::function<Status()>& body, const std::string& name);

}  // namespace sanpool::bench

#endif  // SANPOOL_BENCH_RIG_BENCH_UTIL_H_
