// Test harness for system tests that run real sanpool-agent processes:
// AgentProcess (one agent child: spawn with --set options and environment,
// JSON-RPC calls, kill, reap, wait for exit) and AgentCluster (N agents, each
// with its own sanlock daemon, in a temporary directory under /var/tmp).
//
// Test-only: failures are Catch2 assertions (REQUIRE/FAIL), so these must be
// used from inside a test case. The agent binary comes from the environment
// (SANPOOL_AGENT), the sanlock shim from SANPOOL_SANLOCK_SHIM.
//
// Bounded: every wait is at most the options' wait_limit. Children die with
// the test process (PR_SET_PDEATHSIG) and are SIGKILLed and reaped in the
// destructors, also when an assertion fails.
//
// Thread-safety: not thread-safe; one owner (the test).
#ifndef SANPOOL_TEST_AGENT_HARNESS_H_
#define SANPOOL_TEST_AGENT_HARNESS_H_

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/rpc_client.h"
#include "lease/sanlock_daemon.h"

namespace sanpool::testing {

struct AgentProcessOptions {
  // The agent's socket, log and (empty) config file are
  // <dir>/<name>.sock, <dir>/<name>.log and <dir>/<name>.conf.
  std::string dir;
  std::string name = "agent";
  // Config settings, each passed as `--set key=value` (after rpc.host= and
  // rpc.unix_socket=<socket>, which the harness sets).
  std::vector<std::string> sets;
  // Variables set in the child only, e.g. SANLOCK_RUN_DIR and
  // SANPOOL_CRASH_POINT.
  std::vector<std::pair<std::string, std::string>> env;
  // Bound of every wait (connect, WaitExit, WaitTask).
  std::chrono::seconds wait_limit{60};
  // One RPC request's timeout.
  std::chrono::milliseconds request_timeout{60000};
  // The destructor sends SIGTERM and waits up to 10 s before SIGKILL;
  // otherwise it SIGKILLs at once.
  bool graceful_stop = false;
};

// One sanpool-agent child process, started by the constructor (which fails
// the test if SANPOOL_AGENT is unset or fork fails).
class AgentProcess {
 public:
  explicit AgentProcess(AgentProcessOptions options);
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // SIGKILLs and reaps the process; no-op once it is gone.
  void Kill();
  // Waits (bounded) for the process to exit on its own; true if it did.
  bool WaitExit();

  // The client, connected once Host.ping answers (bounded; fails the test
  // with the log's tail otherwise).
  agent::RpcClient& Client();
  // The reply; fails the test on a transport error.
  agent::RpcReply Raw(const std::string& method, boost::json::object params);
  // The call's result; fails the test on any error.
  boost::json::value Call(const std::string& method,
                          boost::json::object params);
  // The JSON-RPC error code; fails the test if the call succeeds.
  int64_t ErrorCode(const std::string& method, boost::json::object params);
  // Polls Task.getStatus until the task is finished (bounded); its status.
  boost::json::object WaitTask(const boost::json::value& task_id);
  // StoragePool.getSpmStatus's spmStatus for `pool`.
  std::string SpmStatus(const std::string& pool);

  // The last 4000 bytes of the agent's stdout/stderr.
  std::string LogTail() const;

 private:
  AgentProcessOptions options_;
  std::string socket_;
  std::string log_;
  pid_t pid_ = -1;
  std::unique_ptr<agent::RpcClient> client_;
};

// Starts a sanlock daemon in `run_dir` (with the SANPOOL_SANLOCK_SHIM shim);
// fails the test if it does not start. `host_name` may be empty.
std::unique_ptr<lease::SanlockDaemon> StartSanlockDaemon(
    const std::string& run_dir, const std::string& host_name);

// Where a file domain with typeArgs "srv:/pool" lives, relative to the
// cluster's directory (give it in AgentClusterOptions::dirs to use
// CreateFilePool).
inline constexpr char kFilePoolDir[] = "repo/mnt/srv:_pool";

struct AgentClusterOptions {
  // The directory is /var/tmp/<prefix>-XXXXXX.
  std::string prefix = "sanpool-cluster";
  // Host h's sanlock name is <host_name_prefix><h>.
  std::string host_name_prefix = "sanpool-host";
  int hosts = 2;
  // Directories (relative) made before the agents start.
  std::vector<std::string> dirs;
  // Extra environment for every agent (SANLOCK_RUN_DIR is set per host).
  std::vector<std::pair<std::string, std::string>> env;
  // Extra `--set` settings of host h (1-based), e.g. its own dm daemon;
  // empty: none.
  std::function<std::vector<std::string>(int host)> host_sets;
  std::chrono::seconds wait_limit{60};
};

// N agents sharing <dir>/repo, host h (1-based) with its own sanlock daemon
// in <dir>/sl<h>, run dir, state file and socket. Settings: sanlock
// io_timeout 2 s, spm.backoff_max_ms 300, monitor.interval_s 1. The
// constructor first writes back the file system's dirty data (syncfs) that
// earlier tests left, so it cannot stall the daemons' lease I/O. The
// destructor kills the agents, then the daemons, then removes the directory;
// when a REQUIRE failed (an exception is in flight) it first prints the tail
// of every agent's and daemon's log to stderr.
class AgentCluster {
 public:
  explicit AgentCluster(AgentClusterOptions options);
  ~AgentCluster();
  AgentCluster(const AgentCluster&) = delete;
  AgentCluster& operator=(const AgentCluster&) = delete;

  AgentProcess& agent(int host) { return *agents_.at(host - 1); }
  const std::string& dir() const { return dir_; }
  // A new agent process for `host` (same config, state file and daemon).
  AgentProcess& Restart(int host);
  // Host 1 creates the file master domain `master` (typeArgs "srv:/pool",
  // kFilePoolDir) and the pool `pool` (master version 1); then every host
  // connects with its own host id. Fails the test on any error.
  void CreateFilePool(const std::string& pool, const std::string& master);
  // Polls `hosts` until one reports SPM of `pool`; its number, or 0.
  int WaitForSpm(const std::string& pool, const std::vector<int>& hosts);

 private:
  std::unique_ptr<AgentProcess> NewAgent(int host);
  // Stops the agents, then the daemons (with their log tails on stderr
  // when `failed`), and removes the directory. Idempotent.
  void TearDown(bool failed);

  AgentClusterOptions options_;
  std::string dir_;
  std::vector<std::unique_ptr<lease::SanlockDaemon>> daemons_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

}  // namespace sanpool::testing

#endif  // SANPOOL_TEST_AGENT_HARNESS_H_
