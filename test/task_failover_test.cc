// System test: persistent SPM tasks across an SPM crash (issue 5). Two real
// agents, each with its own sanlock daemon, share a file master domain
// (harness as in pool_failover_test.cc). Both run with
// SANPOOL_CRASH_POINT=file.volume.create.after_meta; the SPM is asked for a
// Volume.create and dies right after the volume's commit point, its task
// left "running" in master/tasks. The other agent becomes SPM, rolls the
// task back (the volume is removed) and reports it in
// Host.getAllTasksStatuses as finished, cleanSuccess, "rolled back by new
// SPM".
//
// Needs root and the sanlock package. Paths come from the environment
// (meson): SANPOOL_AGENT, SANPOOL_SANLOCK_SHIM. Bounded like
// pool_failover_test: every wait at most kWaitLimit; agents and daemons are
// SIGKILLed and reaped in destructors.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/rpc_client.h"
#include "lease/sanlock_daemon.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

constexpr char kPool[] = "6c6c6c6c-0000-4000-8000-000000000001";
constexpr char kMaster[] = "6c6c6c6c-0000-4000-8000-0000000000d1";
constexpr char kImg[] = "6c6c6c6c-0000-4000-8000-0000000000a1";
constexpr char kVol[] = "6c6c6c6c-0000-4000-8000-0000000000b1";
constexpr seconds kWaitLimit{60};

// One sanpool-agent child process.
class AgentProcess {
 public:
  AgentProcess(const std::string& dir, int host,
               const std::string& sanlock_run_dir)
      : socket_(dir + "/a" + std::to_string(host) + ".sock"),
        log_(dir + "/agent" + std::to_string(host) + ".log") {
    const char* exe = std::getenv("SANPOOL_AGENT");
    REQUIRE(exe != nullptr);
    std::string conf = dir + "/agent" + std::to_string(host) + ".conf";
    std::ofstream(conf) << "";
    std::vector<std::string> args = {
        exe, "--config", conf,
        "--set", "rpc.host=",
        "--set", "rpc.unix_socket=" + socket_,
        "--set", "storage.repository=" + dir + "/repo",
        "--set", "storage.run_dir=" + dir + "/run" + std::to_string(host),
        "--set", "agent.state_file=" + dir + "/state" + std::to_string(host),
        "--set", "sanlock.io_timeout_s=2",
        "--set", "spm.backoff_max_ms=300",
        "--set", "monitor.interval_s=1"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::setenv("SANLOCK_RUN_DIR", sanlock_run_dir.c_str(), 1);
      ::setenv("SANPOOL_CRASH_POINT", "file.volume.create.after_meta", 1);
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~AgentProcess() { Kill(); }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Waits (bounded) for the process to exit on its own; true if it did.
  bool WaitExit() {
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pid_ <= 0;
  }

  // Connects once the socket answers (bounded).
  agent::RpcClient& Client() {
    if (client_) return *client_;
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (std::chrono::steady_clock::now() < deadline) {
      agent::ClientOptions options;
      options.endpoint.unix_path = socket_;
      auto c = agent::RpcClient::Connect(options);
      if (c.ok()) {
        auto ping = (*c)->Call("Host.ping", json::object());
        if (ping.ok()) {
          client_ = std::move(c).value();
          return *client_;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("agent did not start; log:\n" << LogTail());
    throw std::runtime_error("unreachable");
  }

  // The call's result; fails the test on an RPC error.
  json::value Call(const std::string& method, json::object params) {
    auto r = Client().Call(method, params);
    INFO(method << ": " << (r.ok() ? "" : r.status().ToString()));
    REQUIRE(r.ok());
    INFO(method << " error: "
                << (r->ok() ? "" : r->error->message) << "\nlog:\n"
                << LogTail());
    REQUIRE(r->ok());
    return r->result;
  }

  std::string SpmStatus() {
    json::value v =
        Call("StoragePool.getSpmStatus", {{"storagepoolID", kPool}});
    return std::string(v.at("spmStatus").as_string());
  }

  std::string LogTail() const {
    std::ifstream in(log_);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

 private:
  std::string socket_;
  std::string log_;
  pid_t pid_ = -1;
  std::unique_ptr<agent::RpcClient> client_;
};

class TwoAgents {
 public:
  TwoAgents() {
    char dir_template[] = "/var/tmp/sanpool-tasks-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    std::filesystem::create_directories(dir_ + "/repo/mnt/srv:_pool");
    const char* shim = std::getenv("SANPOOL_SANLOCK_SHIM");
    for (int host = 1; host <= 2; ++host) {
      lease::SanlockDaemonOptions options;
      options.run_dir = dir_ + "/sl" + std::to_string(host);
      options.shim_path = shim != nullptr ? shim : "";
      options.host_name = "sanpool-task-host" + std::to_string(host);
      auto d = lease::SanlockDaemon::Start(options);
      INFO(d.status().ToString());
      REQUIRE(d.ok());
      daemons_.push_back(std::move(d).value());
    }
    for (int host = 1; host <= 2; ++host) {
      agents_.push_back(std::make_unique<AgentProcess>(
          dir_, host, daemons_[host - 1]->run_dir()));
    }
  }
  ~TwoAgents() {
    agents_.clear();  // agents first: they hold leases in the daemons
    daemons_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  AgentProcess& agent(int host) { return *agents_.at(host - 1); }
  const std::string& dir() const { return dir_; }
  // A new agent process for `host` (same config, state file and daemon).
  AgentProcess& Restart(int host) {
    agents_.at(host - 1).reset();
    agents_.at(host - 1) = std::make_unique<AgentProcess>(
        dir_, host, daemons_.at(host - 1)->run_dir());
    return agent(host);
  }

  // Polls both agents until one reports SPM; returns its host number, or 0.
  int WaitForSpm(std::vector<int> hosts) {
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (std::chrono::steady_clock::now() < deadline) {
      for (int h : hosts) {
        if (agent(h).SpmStatus() == "SPM") return h;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return 0;
  }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<lease::SanlockDaemon>> daemons_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

TEST_CASE("an SPM killed in Volume.create: the next SPM rolls the task back") {
  TwoAgents cluster;
  AgentProcess& a = cluster.agent(1);
  a.Call("StorageDomain.create",
         {{"storagedomainID", kMaster}, {"domainType", 1},
          {"typeArgs", "srv:/pool"}, {"name", "master"}, {"domainClass", 1}});
  a.Call("StoragePool.create",
         {{"storagepoolID", kPool}, {"name", "dc1"},
          {"masterSdUUID", kMaster}, {"masterVersion", 1},
          {"domainList", json::array{kMaster}}});
  for (int host = 1; host <= 2; ++host) {
    cluster.agent(host).Call("StoragePool.connect",
                             {{"storagepoolID", kPool}, {"hostID", host},
                              {"masterSdUUID", kMaster},
                              {"masterVersion", 1}});
  }
  int spm = cluster.WaitForSpm({1, 2});
  REQUIRE(spm != 0);
  int other = spm == 1 ? 2 : 1;

  json::value task = cluster.agent(spm).Call(
      "Volume.create",
      {{"storagedomainID", kMaster}, {"storagepoolID", kPool},
       {"imageID", kImg}, {"volumeID", kVol}, {"size", "1048576"},
       {"volFormat", 5}, {"preallocate", 2}, {"diskType", "DATA"},
       {"desc", "crash"}, {"srcImgUUID", ""}, {"srcVolUUID", ""}});
  std::string task_id(task.as_string());
  // The job dies right after the volume's .meta was written.
  REQUIRE(cluster.agent(spm).WaitExit());
  std::string domain = cluster.dir() + "/repo/mnt/srv:_pool/" + kMaster;
  std::string vol = domain + "/images/" + kImg + "/" + kVol;
  CHECK(std::filesystem::exists(vol + ".meta"));
  {
    std::ifstream rec(domain + "/master/tasks/" + task_id + "/task");
    std::string text((std::istreambuf_iterator<char>(rec)), {});
    CHECK(text.find("state=running") != std::string::npos);
    CHECK(text.find("recover=remove_volume|") != std::string::npos);
  }

  REQUIRE(cluster.WaitForSpm({other}) == other);
  CHECK(!std::filesystem::exists(vol + ".meta"));
  CHECK(!std::filesystem::exists(vol));
  json::value all =
      cluster.agent(other).Call("Host.getAllTasksStatuses", json::object());
  INFO(json::serialize(all));
  REQUIRE(all.as_object().contains(task_id));
  const json::value& t = all.at(task_id);
  CHECK(t.at("taskState").as_string() == "finished");
  CHECK(t.at("taskResult").as_string() == "cleanSuccess");
  CHECK(t.at("message").as_string() == "rolled back by new SPM");
  // Task.clear removes the record from the master.
  cluster.agent(other).Call("Task.clear", {{"taskID", task_id}});
  CHECK(!std::filesystem::exists(domain + "/master/tasks/" + task_id));
}

}  // namespace
}  // namespace sanpool
