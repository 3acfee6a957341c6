// `sanpool`: the command-line client of the sanpool agent (doc/cli.md).
//
// Exit codes: 0 success, 1 the agent answered with a JSON-RPC error, 2 usage
// errors (bad flags, params that are not JSON, unreadable TLS files), 3 the
// agent could not be reached or its answer was unusable.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "agent/rpc_client.h"
#include "base/env.h"
#include "tools/certs/make_certs.h"
#include "tools/pretty_json.h"
#include "tools/rig/rig_main.h"

namespace sanpool::tools {
namespace {

namespace json = boost::json;
using agent::ClientOptions;
using agent::Endpoint;
using agent::RpcClient;
using agent::RpcReply;

constexpr int kExitOk = 0;
constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnection = 3;

constexpr std::string_view kMainHelp = R"(usage: sanpool [OPTIONS] COMMAND [ARGS]

Command-line client of the sanpool storage agent.

Commands:
  call METHOD [PARAMS]   call a JSON-RPC method; PARAMS is a JSON object or
                         array ("-" reads it from stdin)
  make-certs DIR [SAN..] write a test CA, host and client certificate to DIR
  rig COMMAND            a whole cluster on one machine (sanpool rig --help)
  help [COMMAND]         show help

Run 'sanpool COMMAND --help' for a command's options.
Exit codes: 0 ok, 1 JSON-RPC error, 2 usage error, 3 connection error.
)";

constexpr std::string_view kCallHelp = R"(usage: sanpool call [OPTIONS] METHOD [PARAMS]

Calls METHOD (e.g. Host.ping) on the agent with PARAMS, a JSON object of
named parameters (or an array); "-" reads PARAMS from stdin.

Options:
  --socket PATH   agent's Unix socket (default /run/sanpool/agent.sock)
  --url URL       https://HOST[:PORT] (mutual TLS) or http://HOST[:PORT]
                  instead of the Unix socket (default port 54321)
  --ca FILE       CA certificate that signed the agent's certificate
  --cert FILE     client certificate (PEM)
  --key FILE      client private key (PEM)
  --ws            call over a WebSocket instead of HTTP POST
  --timeout SEC   give up after SEC seconds (default 60)
  --json          print the JSON-RPC response object exactly as received
  -h, --help      show this help

Output: the result as indented JSON; on a JSON-RPC error, "error CODE:
MESSAGE" and the error data on stderr.
Exit codes: 0 ok, 1 JSON-RPC error, 2 usage error, 3 connection error.
)";

constexpr std::string_view kMakeCertsHelp = R"(usage: sanpool make-certs [OPTIONS] DIR [SAN...]

Writes a throw-away PKI for mutual TLS into DIR (created if missing):
  ca.pem ca.key          self-signed CA (EC P-256)
  host.pem host.key      agent certificate; subjectAltName 127.0.0.1, ::1,
                         localhost, this host's name and any SAN given
                         ("DNS:host1", "IP:10.0.0.5")
  client.pem client.key  client certificate (clientAuth)
Keys are written mode 0600. For tests and the rig, not for production.

Options:
  --days N        validity in days (default 3650)
  -h, --help      show this help
)";

struct Args {
  std::vector<std::string> positional;
  std::optional<std::string> socket;
  std::optional<std::string> url;
  agent::TlsFiles tls;
  bool ws = false;
  bool json_output = false;
  bool help = false;
  double timeout_s = 60;
  int days = 3650;
};

int Usage(std::string_view message) {
  std::cerr << "sanpool: " << message << "\n(see 'sanpool --help')\n";
  return kExitUsage;
}

// Flags may appear anywhere; "--" ends them. Returns an error message.
std::optional<std::string> ParseArgs(int argc, char** argv, Args& args) {
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg == "-" || !arg.starts_with("-")) {
      args.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
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
    auto needs_value = [&](std::string* out) -> std::optional<std::string> {
      std::optional<std::string> v = value();
      if (!v) return "option " + arg + " needs a value";
      *out = *v;
      return std::nullopt;
    };
    std::string text;
    std::optional<std::string> err;
    if (arg == "-h" || arg == "--help") {
      args.help = true;
    } else if (arg == "--json") {
      args.json_output = true;
    } else if (arg == "--ws") {
      args.ws = true;
    } else if (arg == "--socket") {
      if ((err = needs_value(&text))) return err;
      args.socket = text;
    } else if (arg == "--url") {
      if ((err = needs_value(&text))) return err;
      args.url = text;
    } else if (arg == "--ca") {
      if ((err = needs_value(&args.tls.ca_file))) return err;
    } else if (arg == "--cert") {
      if ((err = needs_value(&args.tls.cert_file))) return err;
    } else if (arg == "--key") {
      if ((err = needs_value(&args.tls.key_file))) return err;
    } else if (arg == "--timeout" || arg == "--days") {
      if ((err = needs_value(&text))) return err;
      try {
        size_t used = 0;
        if (arg == "--timeout") {
          args.timeout_s = std::stod(text, &used);
          if (args.timeout_s <= 0) used = 0;
        } else {
          args.days = std::stoi(text, &used);
        }
        if (used != text.size()) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        return "option " + arg + ": bad number '" + text + "'";
      }
    } else {
      return "unknown option " + arg;
    }
  }
  return std::nullopt;
}

// Prints "error CODE: message" and the data to stderr.
void PrintRpcError(const agent::RpcError& error) {
  std::cerr << "error " << error.code << ": " << error.message << "\n";
  if (!error.data.is_null()) std::cerr << PrettyJson(error.data) << "\n";
}

int RunCall(const Args& args) {
  if (args.help) {
    std::cout << kCallHelp;
    return kExitOk;
  }
  if (args.positional.size() < 2 || args.positional.size() > 3) {
    return Usage("call needs METHOD and at most one PARAMS argument");
  }
  if (args.socket && args.url) return Usage("--socket and --url exclude each other");
  const std::string& method = args.positional[1];
  json::value params;  // null: no params sent
  if (args.positional.size() == 3) {
    std::string text = args.positional[2];
    if (text == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    json::error_code ec;
    params = json::parse(text, ec);
    if (ec) return Usage("PARAMS is not valid JSON: " + ec.message());
    if (!params.is_object() && !params.is_array()) {
      return Usage("PARAMS must be a JSON object or array");
    }
  }

  ClientOptions options;
  Result<Endpoint> endpoint = agent::ParseEndpoint(
      args.url ? *args.url : args.socket ? *args.socket : std::string(agent::kDefaultUnixSocket));
  if (!endpoint.ok()) return Usage(std::string(endpoint.status().message()));
  options.endpoint = *endpoint;
  options.tls = args.tls;
  options.protocol = args.ws ? agent::Protocol::kWebSocket : agent::Protocol::kHttp;
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(args.timeout_s * 1000));
  options.connect_timeout = std::min(timeout, options.connect_timeout);
  options.request_timeout = timeout;

  std::string where = agent::EndpointToString(options.endpoint);
  Result<std::unique_ptr<RpcClient>> client = RpcClient::Connect(options);
  if (!client.ok()) {
    std::cerr << "sanpool: cannot reach the agent at " << where << ": "
              << client.status().ToString() << "\n";
    return client.status().code() == Code::kInvalidArgument ? kExitUsage : kExitConnection;
  }
  Result<RpcReply> reply = (*client)->Call(method, params);
  if (!reply.ok()) {
    std::cerr << "sanpool: " << method << " at " << where << ": " << reply.status().ToString()
              << "\n";
    return kExitConnection;
  }
  if (args.json_output) {
    std::cout << reply->raw << "\n";
    if (!reply->ok()) {
      std::cerr << "error " << reply->error->code << ": " << reply->error->message << "\n";
    }
  } else if (reply->ok()) {
    std::cout << PrettyJson(reply->result) << "\n";
  } else {
    PrintRpcError(*reply->error);
  }
  return reply->ok() ? kExitOk : kExitRpcError;
}

int RunMakeCerts(const Args& args) {
  if (args.help) {
    std::cout << kMakeCertsHelp;
    return kExitOk;
  }
  if (args.positional.size() < 2) return Usage("make-certs needs a directory");
  CertRequest request;
  request.dir = args.positional[1];
  request.extra_sans.assign(args.positional.begin() + 2, args.positional.end());
  request.days = args.days;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) request.host_name = host;
  std::unique_ptr<Env> env = NewPosixEnv();
  Status status = MakeCerts(*env, request);
  if (!status.ok()) {
    std::cerr << "sanpool: make-certs: " << status.ToString() << "\n";
    return status.code() == Code::kInvalidArgument ? kExitUsage : 1;
  }
  std::cout << "wrote ca, host and client certificates to " << request.dir << "\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  // `rig` has its own options (tools/rig/rig_main.h).
  if (argc > 1 && std::string_view(argv[1]) == "rig") return rig::RunRig(argc - 1, argv + 1);
  Args args;
  if (std::optional<std::string> err = ParseArgs(argc, argv, args)) return Usage(*err);
  if (args.positional.empty()) {
    if (args.help) {
      std::cout << kMainHelp;
      return kExitOk;
    }
    return Usage("no command given");
  }
  const std::string& command = args.positional[0];
  if (command == "call") return RunCall(args);
  if (command == "make-certs") return RunMakeCerts(args);
  if (command == "help") {
    std::string topic = args.positional.size() > 1 ? args.positional[1] : "";
    if (topic == "rig") {
      std::cout << rig::kRigHelp;
      return kExitOk;
    }
    std::cout << (topic == "call"         ? kCallHelp
                  : topic == "make-certs" ? kMakeCertsHelp
                                          : kMainHelp);
    return kExitOk;
  }
  return Usage("unknown command '" + command + "'");
}

}  // namespace
}  // namespace sanpool::tools

int main(int argc, char** argv) { return sanpool::tools::Main(argc, argv); }
