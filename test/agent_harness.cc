#include "test/agent_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace sanpool::testing {

namespace json = boost::json;

AgentProcess::AgentProcess(AgentProcessOptions options)
    : options_(std::move(options)),
      socket_(options_.dir + "/" + options_.name + ".sock"),
      log_(options_.dir + "/" + options_.name + ".log") {
  const char* exe = std::getenv("SANPOOL_AGENT");
  REQUIRE(exe != nullptr);
  std::string conf = options_.dir + "/" + options_.name + ".conf";
  std::ofstream(conf) << "";
  std::vector<std::string> args = {exe,     "--config", conf,
                                   "--set", "rpc.host=", "--set",
                                   "rpc.unix_socket=" + socket_};
  for (const std::string& s : options_.sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (const auto& [name, value] : options_.env) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0 && options_.graceful_stop) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  Kill();
}

void AgentProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool AgentProcess::WaitExit() {
  auto deadline = std::chrono::steady_clock::now() + options_.wait_limit;
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pid_ <= 0;
}

agent::RpcClient& AgentProcess::Client() {
  if (client_) return *client_;
  auto deadline = std::chrono::steady_clock::now() + options_.wait_limit;
  while (std::chrono::steady_clock::now() < deadline) {
    agent::ClientOptions client_options;
    client_options.endpoint.unix_path = socket_;
    client_options.request_timeout = options_.request_timeout;
    auto c = agent::RpcClient::Connect(client_options);
    if (c.ok() && (*c)->Call("Host.ping", json::object()).ok()) {
      client_ = std::move(c).value();
      return *client_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("agent did not start; log:\n" << LogTail());
  throw std::runtime_error("unreachable");
}

agent::RpcReply AgentProcess::Raw(const std::string& method,
                                  json::object params) {
  auto r = Client().Call(method, params);
  INFO(method << ": " << (r.ok() ? "" : r.status().ToString()));
  REQUIRE(r.ok());
  return *r;
}

json::value AgentProcess::Call(const std::string& method,
                               json::object params) {
  agent::RpcReply r = Raw(method, std::move(params));
  INFO(method << " error: " << (r.ok() ? "" : r.error->message)
              << "\nlog:\n"
              << LogTail());
  REQUIRE(r.ok());
  return r.result;
}

int64_t AgentProcess::ErrorCode(const std::string& method,
                                json::object params) {
  agent::RpcReply r = Raw(method, std::move(params));
  REQUIRE_FALSE(r.ok());
  return r.error->code;
}

json::object AgentProcess::WaitTask(const json::value& task_id) {
  auto deadline = std::chrono::steady_clock::now() + options_.wait_limit;
  while (true) {
    json::object s =
        Call("Task.getStatus", {{"taskID", task_id.as_string()}}).as_object();
    if (s.at("taskState").as_string() == "finished") return s;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string AgentProcess::SpmStatus(const std::string& pool) {
  json::value v = Call("StoragePool.getSpmStatus", {{"storagepoolID", pool}});
  return std::string(v.at("spmStatus").as_string());
}

std::string AgentProcess::LogTail() const {
  std::ifstream in(log_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

std::unique_ptr<lease::SanlockDaemon> StartSanlockDaemon(
    const std::string& run_dir, const std::string& host_name) {
  lease::SanlockDaemonOptions options;
  options.run_dir = run_dir;
  const char* shim = std::getenv("SANPOOL_SANLOCK_SHIM");
  options.shim_path = shim != nullptr ? shim : "";
  options.host_name = host_name;
  auto d = lease::SanlockDaemon::Start(options);
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  return std::move(d).value();
}

AgentCluster::AgentCluster(AgentClusterOptions options)
    : options_(std::move(options)) {
  std::string dir_template = "/var/tmp/" + options_.prefix + "-XXXXXX";
  REQUIRE(::mkdtemp(dir_template.data()) != nullptr);
  dir_ = dir_template;
  // Earlier suites leave gigabytes of dirty page cache on this file system
  // (block tests write into sparse files). Written back now, before the
  // daemons start renewing leases with a 2 s io_timeout, it cannot delay
  // their I/O (doc/rig.md "Flaky after the other suites").
  if (int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
  try {
    for (const std::string& d : options_.dirs) {
      std::filesystem::create_directories(dir_ + "/" + d);
    }
    for (int host = 1; host <= options_.hosts; ++host) {
      daemons_.push_back(StartSanlockDaemon(
          dir_ + "/sl" + std::to_string(host),
          options_.host_name_prefix + std::to_string(host)));
    }
    for (int host = 1; host <= options_.hosts; ++host) {
      agents_.push_back(NewAgent(host));
    }
  } catch (...) {
    // A daemon or agent that did not start: no destructor runs for a
    // half-built cluster, so stop what started and remove the directory.
    TearDown(/*failed=*/true);
    throw;
  }
}

AgentCluster::~AgentCluster() {
  TearDown(/*failed=*/std::uncaught_exceptions() > 0);
}

void AgentCluster::TearDown(bool failed) {
  if (failed) {
    // A failed REQUIRE: the logs say why, and the directory goes next.
    for (size_t i = 0; i < agents_.size(); ++i) {
      std::cerr << "--- agent " << i + 1 << " log tail:\n"
                << agents_[i]->LogTail() << "\n";
    }
    for (size_t i = 0; i < daemons_.size(); ++i) {
      std::cerr << "--- sanlock daemon " << i + 1 << " log tail:\n"
                << daemons_[i]->LogTail(4000) << "\n";
    }
  }
  agents_.clear();  // agents first: they hold leases in the daemons
  daemons_.clear();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  dir_.clear();
}

std::unique_ptr<AgentProcess> AgentCluster::NewAgent(int host) {
  const std::string h = std::to_string(host);
  AgentProcessOptions options;
  options.dir = dir_;
  options.name = "agent" + h;
  options.sets = {"storage.repository=" + dir_ + "/repo",
                  "storage.run_dir=" + dir_ + "/run" + h,
                  "agent.state_file=" + dir_ + "/state" + h,
                  "sanlock.io_timeout_s=2",
                  "spm.backoff_max_ms=300",
                  "monitor.interval_s=1"};
  if (options_.host_sets) {
    for (std::string& set : options_.host_sets(host)) {
      options.sets.push_back(std::move(set));
    }
  }
  options.env = options_.env;
  options.env.emplace_back("SANLOCK_RUN_DIR",
                           daemons_.at(host - 1)->run_dir());
  options.wait_limit = options_.wait_limit;
  return std::make_unique<AgentProcess>(std::move(options));
}

AgentProcess& AgentCluster::Restart(int host) {
  agents_.at(host - 1).reset();
  agents_.at(host - 1) = NewAgent(host);
  return agent(host);
}

void AgentCluster::CreateFilePool(const std::string& pool,
                                  const std::string& master) {
  agent(1).Call("StorageDomain.create",
                {{"storagedomainID", master}, {"domainType", 1},
                 {"typeArgs", "srv:/pool"}, {"name", "master"},
                 {"domainClass", 1}});
  agent(1).Call("StoragePool.create",
                {{"storagepoolID", pool}, {"name", "dc1"},
                 {"masterSdUUID", master}, {"masterVersion", 1},
                 {"domainList", json::array{master}}});
  for (int host = 1; host <= options_.hosts; ++host) {
    agent(host).Call("StoragePool.connect",
                     {{"storagepoolID", pool}, {"hostID", host},
                      {"masterSdUUID", master}, {"masterVersion", 1}});
  }
}

int AgentCluster::WaitForSpm(const std::string& pool,
                             const std::vector<int>& hosts) {
  auto deadline = std::chrono::steady_clock::now() + options_.wait_limit;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int h : hosts) {
      if (agent(h).SpmStatus(pool) == "SPM") return h;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return 0;
}

}  // namespace sanpool::testing
