#include "tools/rig/rig_main.h"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/env.h"
#include "base/log.h"
#include "base/process.h"
#include "lease/timeouts.h"
#include "tools/pretty_json.h"
#include "tools/rig/rig.h"

namespace sanpool::rig {

const std::string_view kRigHelp = R"(usage: sanpool rig [--dir D] COMMAND [ARGS]

A whole sanpool cluster on one machine (doc/rig.md): SAN = loop devices
over sparse files in D/san, NAS = D/nas, and per host I its own sanlock
daemon, sanpool-dmemu and sanpool-agent (127.0.0.1, mutual TLS, port in
D/hosts/I/agent.port; Unix socket D/hosts/I/agent.sock). Needs root.

Commands:
  up --hosts N [--lun-size 50G] [--luns 2] [--io-timeout S] [--timeout S]
     [--agent-config KEY=VALUE]...
                      build the rig; waits until every agent answers Host.ping
  status [--json]     processes, agent ping, SPM and domains per host
  kill-host I         SIGKILL host I's sanlock daemon, dm emulator and agent
  kill-agent I        SIGKILL host I's agent only
  start-host I        start whatever of host I is not running
  call I METHOD [JSON]
                      call METHOD on host I's agent ("-" reads JSON from stdin)
  down                stop everything, unmount, detach loops (idempotent)

Options:
  --dir D             the rig's directory (default /var/tmp/sanpool-rig)
  --io-timeout S      sanlock io_timeout for the rig's lockspaces (default 2)
  --timeout S         how long up/start-host wait for an agent (default 60)
  --json              status as JSON
  -h, --help          this help

Binaries: SANPOOL_AGENT, SANPOOL_DMEMU, SANPOOL_SANLOCK_SHIM override where
the rig finds sanpool-agent, sanpool-dmemu and libsanlock-shim.so (default:
beside this `sanpool`, in a build tree or an installation).
)";

namespace {

namespace json = boost::json;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnection = 3;

struct RigArgs {
  std::vector<std::string> positional;
  std::string dir = kDefaultRigDir;
  int hosts = 0;
  int luns = 2;
  std::string lun_size = "50G";
  int io_timeout_s = static_cast<int>(lease::kRigIoTimeout.count());
  int timeout_s = 60;
  std::vector<std::string> agent_config;  // --agent-config, repeatable
  bool json_output = false;
  bool help = false;
};

int Usage(std::string_view message) {
  std::cerr << "sanpool rig: " << message << "\n(see 'sanpool rig --help')\n";
  return kExitUsage;
}

std::optional<std::string> ParseInt(const std::string& flag, const std::string& text, int* out) {
  try {
    size_t used = 0;
    *out = std::stoi(text, &used);
    if (used == text.size() && *out >= 0) return std::nullopt;
  } catch (const std::exception&) {
  }
  return "option " + flag + ": bad number '" + text + "'";
}

std::optional<std::string> Parse(int argc, char** argv, RigArgs& args) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-" || !arg.starts_with("-")) {
      args.positional.push_back(arg);
      continue;
    }
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (arg == "-h" || arg == "--help") {
      args.help = true;
      continue;
    }
    if (arg == "--json") {
      args.json_output = true;
      continue;
    }
    std::optional<std::string> v = value();
    if (!v) return "option " + arg + " needs a value";
    std::optional<std::string> err;
    if (arg == "--dir") {
      args.dir = *v;
    } else if (arg == "--lun-size") {
      args.lun_size = *v;
    } else if (arg == "--hosts") {
      err = ParseInt(arg, *v, &args.hosts);
    } else if (arg == "--luns") {
      err = ParseInt(arg, *v, &args.luns);
    } else if (arg == "--io-timeout") {
      err = ParseInt(arg, *v, &args.io_timeout_s);
    } else if (arg == "--timeout") {
      err = ParseInt(arg, *v, &args.timeout_s);
    } else if (arg == "--agent-config") {
      if (v->find('=') == std::string::npos) return "--agent-config wants KEY=VALUE";
      args.agent_config.push_back(*v);
    } else {
      return "unknown option " + arg;
    }
    if (err) return err;
  }
  if (args.dir.empty() || args.dir[0] != '/') return "--dir must be an absolute path";
  while (args.dir.size() > 1 && args.dir.back() == '/') args.dir.pop_back();
  return std::nullopt;
}

int Failed(std::string_view command, const Status& status) {
  std::cerr << "sanpool rig " << command << ": " << status.ToString() << "\n";
  return kExitFailed;
}

std::optional<int> HostIndex(const RigArgs& args) {
  if (args.positional.size() < 2) return std::nullopt;
  try {
    size_t used = 0;
    int index = std::stoi(args.positional[1], &used);
    if (used == args.positional[1].size() && index >= 1) return index;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

int RunCall(Rig& rig, const RigArgs& args, int index) {
  if (args.positional.size() < 3 || args.positional.size() > 4) {
    return Usage("call needs I METHOD [JSON]");
  }
  json::value params;
  if (args.positional.size() == 4) {
    std::string text = args.positional[3];
    if (text == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    json::error_code ec;
    params = json::parse(text, ec);
    if (ec || (!params.is_object() && !params.is_array())) {
      return Usage("JSON must be an object or an array");
    }
  }
  Result<agent::RpcReply> reply =
      rig.Call(index, args.positional[2], params, std::chrono::seconds(args.timeout_s));
  if (!reply.ok()) {
    std::cerr << "sanpool rig call: " << reply.status().ToString() << "\n";
    return reply.status().code() == Code::kNotFound ? kExitFailed : kExitConnection;
  }
  if (!reply->ok()) {
    std::cerr << "error " << reply->error->code << ": " << reply->error->message << "\n";
    if (!reply->error->data.is_null()) std::cerr << tools::PrettyJson(reply->error->data) << "\n";
    return kExitFailed;
  }
  std::cout << tools::PrettyJson(reply->result) << "\n";
  return kExitOk;
}

}  // namespace

int RunRig(int argc, char** argv) {
  RigArgs args;
  if (std::optional<std::string> err = Parse(argc, argv, args)) return Usage(*err);
  if (args.help || args.positional.empty()) {
    std::cout << kRigHelp;
    return args.help ? kExitOk : kExitUsage;
  }
  const std::string& command = args.positional[0];
  log::SetLevel(log::Level::kWarning);  // the commands print what matters
  Result<RigBinaries> binaries = FindRigBinaries();
  if (!binaries.ok()) return Failed(command, binaries.status());
  std::unique_ptr<Env> env = NewPosixEnv();
  PosixProcessRunner runner;
  Rig rig(*env, runner, *binaries, args.dir);
  const auto timeout = std::chrono::seconds(args.timeout_s);
  const bool needs_host = command == "kill-host" || command == "kill-agent" ||
                          command == "start-host" || command == "call";
  std::optional<int> index = HostIndex(args);
  if (needs_host && !index) return Usage(command + " needs a host number (1..N)");

  if (command == "up") {
    if (args.hosts < 1) return Usage("up needs --hosts N");
    Result<uint64_t> lun_size = ParseByteSize(args.lun_size);
    if (!lun_size.ok()) return Usage(lun_size.status().message());
    Status s = rig.Up({.hosts = args.hosts,
                       .luns = args.luns,
                       .lun_size = *lun_size,
                       .io_timeout_s = args.io_timeout_s,
                       .timeout = timeout,
                       .agent_config = args.agent_config});
    if (!s.ok()) {
      std::cerr << "(what started is recorded; `sanpool rig down --dir " << args.dir
                << "` cleans up)\n";
      return Failed(command, s);
    }
    std::cout << "rig up at " << args.dir << ": " << args.hosts << " hosts\n";
    return kExitOk;
  }
  if (command == "status") {
    Result<RigStatus> status = rig.GetStatus();
    if (!status.ok()) return Failed(command, status.status());
    if (args.json_output) {
      std::cout << json::serialize(RigStatusToJson(*status)) << "\n";
    } else {
      std::cout << FormatRigStatus(*status);
    }
    return kExitOk;
  }
  if (command == "kill-host" || command == "kill-agent" || command == "start-host") {
    Status s = command == "kill-host"    ? rig.KillHost(*index)
               : command == "kill-agent" ? rig.KillAgent(*index)
                                         : rig.StartHost(*index, timeout);
    return s.ok() ? kExitOk : Failed(command, s);
  }
  if (command == "call") return RunCall(rig, args, *index);
  if (command == "down") {
    Status s = rig.Down();
    return s.ok() ? kExitOk : Failed(command, s);
  }
  return Usage("unknown rig command '" + command + "'");
}

}  // namespace sanpool::rig
