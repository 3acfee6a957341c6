// rpc-bench: JSON-RPC throughput, latency and agent memory (doc/cli.md).
//
//   rpc-bench [--agent PATH] [--duration S] [--clients 1,16,64]
//             [--io-threads N] [--json-out FILE]
//   rpc-bench --url https://HOST:PORT --ca F --cert F --key F [--pid PID] ...
//
// Starts sanpool-agent (default: ../agent/sanpool-agent next to this binary)
// with mutual TLS on 127.0.0.1 port 0, or uses a running one with --url, and
// for HTTP and WebSocket, at each client count, runs Host.ping back to back
// from keep-alive clients for --duration seconds. Reports requests/s and
// p50/p99/max latency per case, and the agent's RSS at idle and at its peak
// during load (/proc/<pid>/status VmRSS sampled every 100 ms, and VmHWM).
// JSON goes to stdout (and --json-out), a short table to stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "agent/rpc_client.h"
#include "base/env.h"
#include "bench/agent_process.h"
#include "bench/rpc_load.h"

namespace sanpool::bench {
namespace {

namespace json = boost::json;

struct Flags {
  std::string agent_binary;
  std::optional<std::string> url;
  agent::TlsFiles tls;
  pid_t pid = 0;
  double duration_s = 5;
  std::vector<int> clients = {1, 16, 64};
  std::vector<LoadProtocol> protocols = {LoadProtocol::kHttp, LoadProtocol::kWebSocket};
  int io_threads = 0;  // 0: the agent's default
  std::string json_out;
};

constexpr std::string_view kUsage =
    "usage: rpc-bench [--agent PATH | --url URL --ca F --cert F --key F [--pid PID]]\n"
    "                 [--duration SECONDS] [--clients 1,16,64] [--protocols http,ws]\n"
    "                 [--io-threads N]\n"
    "                 [--json-out FILE]\n";

std::string DefaultAgentBinary() {
  char self[4096] = {};
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "sanpool-agent";
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/')) + "/../agent/sanpool-agent";
}

std::optional<std::string> ParseFlags(int argc, char** argv, Flags& flags) {
  flags.agent_binary = DefaultAgentBinary();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) return "option " + arg + " needs a value (or is unknown)";
    std::string value = argv[++i];
    try {
      if (arg == "--agent") {
        flags.agent_binary = value;
      } else if (arg == "--url") {
        flags.url = value;
      } else if (arg == "--ca") {
        flags.tls.ca_file = value;
      } else if (arg == "--cert") {
        flags.tls.cert_file = value;
      } else if (arg == "--key") {
        flags.tls.key_file = value;
      } else if (arg == "--pid") {
        flags.pid = std::stoi(value);
      } else if (arg == "--duration") {
        flags.duration_s = std::stod(value);
      } else if (arg == "--io-threads") {
        flags.io_threads = std::stoi(value);
      } else if (arg == "--json-out") {
        flags.json_out = value;
      } else if (arg == "--protocols") {
        flags.protocols.clear();
        std::istringstream list(value);
        for (std::string item; std::getline(list, item, ',');) {
          if (item != "http" && item != "ws") return "unknown protocol '" + item + "'";
          flags.protocols.push_back(item == "http" ? LoadProtocol::kHttp
                                                   : LoadProtocol::kWebSocket);
        }
      } else if (arg == "--clients") {
        flags.clients.clear();
        std::istringstream list(value);
        for (std::string item; std::getline(list, item, ',');) {
          flags.clients.push_back(std::stoi(item));
        }
      } else {
        return "unknown option " + arg;
      }
    } catch (const std::exception&) {
      return "option " + arg + ": bad value '" + value + "'";
    }
  }
  if (flags.duration_s <= 0 || flags.clients.empty() || flags.protocols.empty()) return "nothing to run";
  return std::nullopt;
}

double Mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

int Main(int argc, char** argv) {
  Flags flags;
  if (auto err = ParseFlags(argc, argv, flags)) {
    std::cerr << "rpc-bench: " << *err << "\n" << kUsage;
    return 2;
  }
  std::unique_ptr<Env> env = NewPosixEnv();
  std::unique_ptr<AgentProcess> started;
  agent::Endpoint endpoint;
  agent::TlsFiles tls = flags.tls;
  pid_t pid = flags.pid;
  if (flags.url) {
    Result<agent::Endpoint> e = agent::ParseEndpoint(*flags.url);
    if (!e.ok()) {
      std::cerr << "rpc-bench: " << e.status().ToString() << "\n";
      return 2;
    }
    endpoint = *e;
  } else {
    AgentStartOptions options{.binary = flags.agent_binary};
    if (flags.io_threads > 0) {
      options.extra_sets.push_back("rpc.io_threads=" + std::to_string(flags.io_threads));
    }
    Result<std::unique_ptr<AgentProcess>> agent = AgentProcess::Start(*env, options);
    if (!agent.ok()) {
      std::cerr << "rpc-bench: cannot start " << flags.agent_binary << ": "
                << agent.status().ToString() << "\n";
      return 1;
    }
    started = std::move(*agent);
    endpoint = started->endpoint();
    tls = started->client_tls();
    pid = started->pid();
  }

  // One synchronous call first: the agent answers, and it is warm.
  {
    agent::ClientOptions options{.endpoint = endpoint, .tls = tls};
    Result<std::unique_ptr<agent::RpcClient>> client = agent::RpcClient::Connect(options);
    Result<agent::RpcReply> reply =
        client.ok() ? (*client)->Call("Host.ping", json::object()) : client.status();
    if (!reply.ok() || !reply->ok()) {
      std::cerr << "rpc-bench: Host.ping failed: "
                << (reply.ok() ? reply->raw : reply.status().ToString()) << "\n";
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ProcessMemory idle;
  if (pid > 0) idle = ReadProcessMemory(*env, pid).value_or(ProcessMemory{});

  uint64_t peak_rss = idle.rss_bytes;
  json::array cases;
  std::vector<std::string> table;
  for (LoadProtocol protocol : flags.protocols) {
    const char* name = protocol == LoadProtocol::kHttp ? "http" : "ws";
    for (int clients : flags.clients) {
      LoadSpec spec{.endpoint = endpoint, .tls = tls, .protocol = protocol, .clients = clients};
      spec.duration = std::chrono::milliseconds(static_cast<int64_t>(flags.duration_s * 1000));
      spec.on_tick = [&] {
        if (pid <= 0) return;
        Result<ProcessMemory> mem = ReadProcessMemory(*env, pid);
        if (mem.ok()) peak_rss = std::max(peak_rss, mem->rss_bytes);
      };
      Result<LoadResult> r = RunLoad(spec);
      if (!r.ok()) {
        std::cerr << "rpc-bench: " << name << " x" << clients << ": " << r.status().ToString()
                  << "\n";
        return 1;
      }
      cases.push_back(json::object{{"transport", name},
                                   {"tls", true},
                                   {"clients", clients},
                                   {"requests", r->requests},
                                   {"errors", r->errors},
                                   {"seconds", r->seconds},
                                   {"requests_per_second", r->requests_per_second},
                                   {"p50_ms", r->p50_ms},
                                   {"p99_ms", r->p99_ms},
                                   {"max_ms", r->max_ms}});
      char line[160];
      std::snprintf(line, sizeof(line), "%-5s %7d %10.0f %8.3f %8.3f %8.3f %7llu", name,
                    clients, r->requests_per_second, r->p50_ms, r->p99_ms, r->max_ms,
                    static_cast<unsigned long long>(r->errors));
      table.emplace_back(line);
    }
  }
  ProcessMemory end;
  if (pid > 0) end = ReadProcessMemory(*env, pid).value_or(ProcessMemory{});
  peak_rss = std::max(peak_rss, end.rss_bytes);

  json::object report{
      {"benchmark", "rpc"},
      {"method", "Host.ping"},
      {"duration_s", flags.duration_s},
      {"cpus", std::thread::hardware_concurrency()},
      {"agent",
       json::object{{"pid", pid},
                    {"idle_rss_bytes", idle.rss_bytes},
                    {"peak_rss_bytes", peak_rss},
                    {"vm_hwm_bytes", std::max(end.hwm_bytes, peak_rss)}}},
      {"cases", cases},
  };
  if (started) report["agent"].as_object()["exit_status"] = started->Stop();
  std::string text = json::serialize(report);
  std::cout << text << "\n";
  if (!flags.json_out.empty()) {
    std::ofstream out(flags.json_out);
    out << text << "\n";
    if (!out) {
      std::cerr << "rpc-bench: cannot write " << flags.json_out << "\n";
      return 1;
    }
  }
  std::cerr << "proto clients      req/s   p50 ms   p99 ms   max ms  errors\n";
  for (const std::string& line : table) std::cerr << line << "\n";
  char mem[160];
  std::snprintf(mem, sizeof(mem), "agent RSS: idle %.1f MiB, peak %.1f MiB (VmHWM %.1f MiB)\n",
                Mib(idle.rss_bytes), Mib(peak_rss), Mib(std::max(end.hwm_bytes, peak_rss)));
  std::cerr << mem;
  return 0;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
