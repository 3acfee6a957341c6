#include "agent/method_registry.h"

#include <cctype>
#include <set>
#include <string>

namespace sanpool::agent {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsMethodName(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return false;
  return IsIdentifier(name.substr(0, dot)) && IsIdentifier(name.substr(dot + 1));
}

// Markdown table cells: no pipes or newlines.
std::string Cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

constexpr std::string_view kPreamble = R"(# sanpool agent API

Generated from the agent's method registry (`sanpool-agent --dump-api`); do not edit.

## Conventions

- JSON-RPC 2.0 over HTTP (`POST /rpc`), WebSocket (`/rpc`) and the local Unix socket.
- Params are named: `params` must be an object (or absent). Positional params
  (an array) are rejected with -32602.
- Every declared param is validated before the method runs: missing required
  params, wrong types, values outside the limits and undeclared params are
  rejected with -32602 and a message naming the param, e.g.
  `params.size: expected integer, got string`. `null` is only accepted for
  params of type `any`; leave optional params out instead.
- `id` may be a string, a number or null and is echoed in the response.
  A request without `id` is a notification: it gets no response, even on error.
- Batches (arrays of requests) are supported up to the server's `max_batch`.
- Methods run either `inline` (cheap, on the network thread) or on the
  `worker` pool; when the worker pool is full the call fails at once with
  -32008 (server busy) and may be retried.

## Errors

`error.data.status` carries the sanpool status code name, plus any details of
the error as string members.

| Code | Meaning |
|---|---|
| -32700 | Parse error: the body is not valid JSON |
| -32600 | Invalid request: not a JSON-RPC 2.0 request object, bad `id` type, empty or oversized batch, oversized body |
| -32601 | Method not found |
| -32602 | Invalid params (INVALID_ARGUMENT) |
| -32603 | Internal error (a bug; logged) |
| -32000 - c | Status code c: -32001 CANCELLED, -32002 UNKNOWN, -32004 DEADLINE_EXCEEDED, -32005 NOT_FOUND, -32006 ALREADY_EXISTS, -32007 PERMISSION_DENIED, -32008 RESOURCE_EXHAUSTED (also server busy), -32009 FAILED_PRECONDITION, -32010 ABORTED, -32011 OUT_OF_RANGE, -32012 UNIMPLEMENTED, -32014 UNAVAILABLE, -32015 DATA_LOSS |
| > 0 | oVirt storage error code (e.g. 654 Not SPM) |

)";

}  // namespace

std::string_view ExecutionName(Execution execution) {
  switch (execution) {
    case Execution::kInline: return "inline";
    case Execution::kWorker: return "worker";
  }
  return "unknown";
}

Status MethodRegistry::Register(MethodSpec spec) {
  if (!IsMethodName(spec.name)) {
    return InvalidArgumentError("method name \"" + spec.name +
                                "\" is not of the form Class.verb");
  }
  if (!spec.handler) {
    return InvalidArgumentError("method " + spec.name + " has no handler");
  }
  std::set<std::string_view> names;
  for (const ParamSpec& param : spec.params) {
    RETURN_IF_ERROR(CheckParamSpec(param).Annotate("method " + spec.name));
    if (!names.insert(param.name).second) {
      return InvalidArgumentError("method " + spec.name + ": param " + param.name +
                                  " declared twice");
    }
  }
  if (methods_.contains(spec.name)) {
    return AlreadyExistsError("method " + spec.name + " is already registered");
  }
  std::string name = spec.name;
  methods_.emplace(std::move(name), std::move(spec));
  return Status::Ok();
}

const MethodSpec* MethodRegistry::Find(std::string_view name) const {
  auto it = methods_.find(name);
  return it == methods_.end() ? nullptr : &it->second;
}

std::vector<std::string> MethodRegistry::MethodNames() const {
  std::vector<std::string> names;
  names.reserve(methods_.size());
  for (const auto& [name, spec] : methods_) names.push_back(name);
  return names;
}

std::string MethodRegistry::RenderMarkdown() const {
  std::string out(kPreamble);
  out += "## Methods\n\n";
  for (const auto& [name, spec] : methods_) {
    out += "- [" + name + "](#";
    for (char c : name) {
      if (c != '.') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out += ")\n";
  }
  for (const auto& [name, spec] : methods_) {
    out += "\n### " + name + "\n\n";
    if (!spec.description.empty()) out += spec.description + "\n\n";
    out += "Execution: ";
    out += ExecutionName(spec.execution);
    out += spec.execution == Execution::kInline
               ? " (runs on the network thread)\n\n"
               : " (runs on the worker pool; fails with -32008 when it is full)\n\n";
    if (spec.params.empty()) {
      out += "Params: none.\n\n";
    } else {
      out += "| Param | Type | Required | Limits | Description |\n";
      out += "|---|---|---|---|---|\n";
      for (const ParamSpec& p : spec.params) {
        out += "| `" + Cell(p.name) + "` | ";
        out += ParamTypeName(p.type);
        out += " | ";
        out += p.presence == Presence::kRequired ? "yes" : "no";
        out += " | " + Cell(DescribeLimits(p)) + " | " + Cell(p.description) + " |\n";
      }
      out += "\n";
    }
    if (spec.extra_params == ExtraParams::kAllow) {
      out += "Undeclared params are accepted and passed to the method.\n\n";
    }
    out += "Result: " + (spec.result_description.empty() ? std::string("none")
                                                          : spec.result_description);
    out += "\n";
  }
  return out;
}

}  // namespace sanpool::agent
