#include "bench/agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "tools/certs/make_certs.h"

extern char** environ;

namespace sanpool::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `pid` up to `timeout`; true and *status when it was reaped.
bool WaitFor(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    pid_t got = waitpid(pid, status, WNOHANG);
    if (got == pid) return true;
    if (got < 0 && errno != EINTR) return true;  // not our child any more
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

Result<std::unique_ptr<AgentProcess>> AgentProcess::Start(Env& env,
                                                          const AgentStartOptions& options) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "sanpool-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return ErrnoToStatus(errno, "mkdtemp");
  std::unique_ptr<AgentProcess> agent(new AgentProcess(env, pattern));
  const std::string& dir = agent->dir_;
  RETURN_IF_ERROR(tools::MakeCerts(env, {.dir = dir + "/pki", .host_name = "localhost"}));
  agent->tls_ = {.ca_file = dir + "/pki/ca.pem",
                 .cert_file = dir + "/pki/client.pem",
                 .key_file = dir + "/pki/client.key"};

  std::vector<std::string> argv = {
      options.binary,
      "--port-file", dir + "/port",
      "--set", "rpc.host=127.0.0.1",
      "--set", "rpc.port=0",
      "--set", "rpc.tls=true",
      "--set", "rpc.ca_file=" + dir + "/pki/ca.pem",
      "--set", "rpc.cert_file=" + dir + "/pki/host.pem",
      "--set", "rpc.key_file=" + dir + "/pki/host.key",
      "--set", "rpc.unix_socket=" + dir + "/agent.sock",
      "--set", "log.level=warning",
  };
  for (const std::string& set : options.extra_sets) {
    argv.push_back("--set");
    argv.push_back(set);
  }
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log = dir + "/agent.log";
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int err = posix_spawn(&agent->pid_, options.binary.c_str(), &actions, nullptr, c_argv.data(),
                        environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    agent->pid_ = -1;
    return ErrnoToStatus(err, "spawn " + options.binary);
  }

  Clock::time_point deadline = Clock::now() + std::chrono::seconds(15);
  while (true) {
    // The agent writes the port file atomically (rename), "54321\n".
    Result<std::string> port = env.ReadFile(dir + "/port", 64);
    if (port.ok()) {
      std::string text = *port;
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      ASSIGN_OR_RETURN(agent->endpoint_, agent::ParseEndpoint("https://127.0.0.1:" + text));
      return agent;
    }
    int status = 0;
    if (waitpid(agent->pid_, &status, WNOHANG) == agent->pid_) {
      agent->pid_ = -1;
      return UnavailableError("agent exited early: " + agent->LogTail());
    }
    if (Clock::now() >= deadline) {
      return UnavailableError("agent wrote no port file in 15 s: " + agent->LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int AgentProcess::Stop() {
  if (pid_ <= 0) return exit_status_;
  int status = 0;
  kill(pid_, SIGTERM);
  if (!WaitFor(pid_, std::chrono::seconds(10), &status)) {
    kill(pid_, SIGKILL);
    WaitFor(pid_, std::chrono::seconds(10), &status);
  }
  pid_ = -1;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return exit_status_;
}

AgentProcess::~AgentProcess() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string AgentProcess::LogTail() const {
  Result<std::string> log = env_.ReadFile(dir_ + "/agent.log", 1 << 20);
  if (!log.ok()) return "(no log)";
  return log->size() > 2000 ? log->substr(log->size() - 2000) : *log;
}

Result<ProcessMemory> ReadProcessMemory(Env& env, pid_t pid) {
  ASSIGN_OR_RETURN(std::string text,
                   env.ReadFile("/proc/" + std::to_string(pid) + "/status", 1 << 16));
  ProcessMemory mem;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    uint64_t* field = line.starts_with("VmRSS:")   ? &mem.rss_bytes
                      : line.starts_with("VmHWM:") ? &mem.hwm_bytes
                                                   : nullptr;
    if (field) *field = std::stoull(line.substr(6)) * 1024;  // "VmRSS:   1234 kB"
  }
  return mem;
}

}  // namespace sanpool::bench
