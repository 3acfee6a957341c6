#include "agent/rpc_dispatcher.h"

#include <atomic>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serializer.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "agent/rpc_errors.h"
#include "base/log.h"

namespace sanpool::agent {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Parse tuning: a stack buffer holds the parser's temporary state and small
// documents' values, so a typical request allocates nothing while parsing.
constexpr size_t kParserTempBytes = 512;
constexpr size_t kDocumentBufferBytes = 4096;
constexpr size_t kMaxDepth = 64;

// Appends the JSON text of `v` (a json::value or json::object) to `out`
// without an intermediate string.
template <typename Json>
void AppendJson(std::string& out, const Json& v) {
  json::serializer sr;
  sr.reset(&v);
  while (!sr.done()) {
    const size_t old = out.size();
    const size_t room = std::max<size_t>(out.capacity() - old, 256);
    out.resize(old + room);
    const json::string_view written = sr.read(out.data() + old, room);
    out.resize(old + written.size());
  }
}

void AppendId(std::string& out, const json::value* id) {
  if (id == nullptr) {
    out += "null";
  } else {
    AppendJson(out, *id);
  }
}

void AppendResult(std::string& out, const json::value* id, const json::value& result) {
  out += R"({"jsonrpc":"2.0","id":)";
  AppendId(out, id);
  out += R"(,"result":)";
  AppendJson(out, result);
  out += '}';
}

void AppendError(std::string& out, const json::value* id, const json::object& error) {
  out += R"({"jsonrpc":"2.0","id":)";
  AppendId(out, id);
  out += R"(,"error":)";
  AppendJson(out, error);
  out += '}';
}

// A protocol-level error with an explicit JSON-RPC code.
void AppendProtocolError(std::string& out, const json::value* id, int rpc_code,
                         std::string message) {
  AppendError(out, id, StatusToRpcError(InvalidArgumentError(std::move(message)), rpc_code));
}

bool IsValidIdType(const json::value& id) {
  return id.is_string() || id.is_number() || id.is_null();
}

std::chrono::nanoseconds Since(SteadyClock::time_point start) {
  return SteadyClock::now() - start;
}

// The outcome of a handler call, never throwing: a result or a JSON-RPC error.
struct CallOutcome {
  Result<json::value> result;
  int error_code;  // 0 on success
};

CallOutcome RunHandler(const MethodSpec& spec, const json::object& params,
                       const CallContext& ctx) {
  try {
    Result<json::value> result = spec.handler(params, ctx);
    const int code = result.ok() ? 0 : RpcErrorCode(result.status());
    return {std::move(result), code};
  } catch (const std::exception& e) {
    log::Error("rpc", "method threw", {{"method", spec.name}, {"what", e.what()}});
  } catch (...) {
    log::Error("rpc", "method threw", {{"method", spec.name}, {"what", "unknown exception"}});
  }
  return {InternalError("internal error"), kInternalError};
}

void AppendOutcome(std::string& out, const json::value* id, const CallOutcome& outcome) {
  if (outcome.result.ok()) {
    AppendResult(out, id, *outcome.result);
  } else {
    AppendError(out, id, StatusToRpcError(outcome.result.status(), outcome.error_code));
  }
}

}  // namespace

// Shared by the elements of one batch; the last element to finish (or the
// dispatching thread, which holds one count until its loop ends) assembles
// the response and calls `done`. Each part is written by exactly one thread
// before its fetch_sub (acq_rel), so the assembling thread sees every part.
struct RpcDispatcher::BatchState {
  BatchState(size_t n, DoneCallback d, Metrics& m)
      : parts(n), pending(n + 1), done(std::move(d)), metrics(m) {}

  void FinishOne() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::string out;
    size_t total = 2;
    for (const std::string& p : parts) total += p.size() + 1;
    out.reserve(total);
    for (const std::string& p : parts) {
      if (p.empty()) continue;
      out += out.empty() ? '[' : ',';
      out += p;
    }
    if (!out.empty()) out += ']';
    metrics.AddInFlight(-1);
    done(std::move(out));
  }

  std::vector<std::string> parts;
  std::atomic<size_t> pending;
  DoneCallback done;
  Metrics& metrics;
};

// Where a worker call delivers its response text: the single request's
// `done`, or its slot in a batch.
struct RpcDispatcher::Sink {
  DoneCallback done;
  std::shared_ptr<BatchState> batch;
  size_t index = 0;
  Metrics* metrics = nullptr;

  void Complete(std::string part) {
    if (batch) {
      batch->parts[index] = std::move(part);
      batch->FinishOne();
    } else {
      metrics->AddInFlight(-1);
      done(std::move(part));
    }
  }
};

// What HandleElement may take a Sink from when it goes asynchronous.
struct RpcDispatcher::AsyncTarget {
  DoneCallback* single_done = nullptr;  // moved out when taken
  std::shared_ptr<BatchState> batch;
  size_t index = 0;
  Metrics* metrics = nullptr;
  SteadyClock::time_point start;

  Sink Take() {
    Sink sink;
    sink.metrics = metrics;
    if (batch) {
      sink.batch = batch;
      sink.index = index;
    } else {
      sink.done = std::move(*single_done);
    }
    return sink;
  }
};

RpcDispatcher::RpcDispatcher(const MethodRegistry& registry, Metrics& metrics,
                             WorkerPool& pool, Limits limits)
    : registry_(registry), metrics_(metrics), pool_(pool), limits_(limits) {}

void RpcDispatcher::Handle(std::string_view body, const CallContext& ctx,
                           DoneCallback done) {
  metrics_.AddInFlight(1);
  // `done` is moved out (into a Sink or a BatchState) exactly when someone
  // else takes over the duty to call it; if it is still here after an
  // exception, nobody has called it yet.
  try {
    HandleBody(body, ctx, done);
    return;
  } catch (const std::exception& e) {
    log::Error("rpc", "dispatch failed", {{"what", e.what()}});
  } catch (...) {
    log::Error("rpc", "dispatch failed", {{"what", "unknown exception"}});
  }
  if (done) {
    std::string out;
    try {
      AppendProtocolError(out, nullptr, kInternalError, "internal error");
    } catch (...) {
      out = R"({"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}})";
    }
    metrics_.AddInFlight(-1);
    done(std::move(out));
  }
}

void RpcDispatcher::HandleBody(std::string_view body, const CallContext& ctx,
                               DoneCallback& done) {
  const SteadyClock::time_point start = SteadyClock::now();
  std::string out;
  out.reserve(128);
  auto finish_inline = [&](int error_code) {
    if (error_code != 0) metrics_.RecordRequest("", error_code, Since(start));
    metrics_.AddInFlight(-1);
    DoneCallback d = std::move(done);
    d(std::move(out));
  };

  if (body.size() > limits_.max_request_bytes) {
    AppendProtocolError(out, nullptr, kInvalidRequest,
                        "request too large: " + std::to_string(body.size()) +
                            " bytes exceeds the limit of " +
                            std::to_string(limits_.max_request_bytes));
    return finish_inline(kInvalidRequest);
  }

  unsigned char temp[kParserTempBytes];
  unsigned char document_buffer[kDocumentBufferBytes];
  json::monotonic_resource resource(document_buffer, sizeof document_buffer);
  json::parse_options options;
  options.max_depth = kMaxDepth;
  json::parser parser(json::storage_ptr(), options, temp, sizeof temp);
  parser.reset(&resource);
  json::error_code ec;
  const size_t consumed = parser.write(body.data(), body.size(), ec);
  if (ec) {
    AppendProtocolError(out, nullptr, kParseError,
                        "parse error at byte " + std::to_string(consumed) + ": " +
                            ec.message());
    return finish_inline(kParseError);
  }
  const json::value document = parser.release();

  if (document.is_array()) {
    HandleBatch(document.get_array(), ctx, done);
    return;
  }
  if (!document.is_object()) {
    AppendProtocolError(out, nullptr, kInvalidRequest,
                        "request must be an object or a batch array");
    return finish_inline(kInvalidRequest);
  }
  AsyncTarget target{.single_done = &done, .metrics = &metrics_, .start = start};
  if (HandleElement(document, ctx, out, target) == Outcome::kAsync) return;
  finish_inline(0);
}

void RpcDispatcher::HandleBatch(const json::array& batch, const CallContext& ctx,
                                DoneCallback& done) {
  const SteadyClock::time_point start = SteadyClock::now();
  std::string error;
  if (batch.empty()) {
    AppendProtocolError(error, nullptr, kInvalidRequest, "empty batch");
  } else if (batch.size() > limits_.max_batch) {
    AppendProtocolError(error, nullptr, kInvalidRequest,
                        "batch of " + std::to_string(batch.size()) +
                            " requests exceeds the limit of " +
                            std::to_string(limits_.max_batch));
  }
  if (!error.empty()) {
    metrics_.RecordRequest("", kInvalidRequest, Since(start));
    metrics_.AddInFlight(-1);
    DoneCallback d = std::move(done);
    d(std::move(error));
    return;
  }

  auto state = std::make_shared<BatchState>(batch.size(), std::move(done), metrics_);
  for (size_t i = 0; i < batch.size(); ++i) {
    AsyncTarget target{.batch = state, .index = i, .metrics = &metrics_, .start = start};
    std::string part;
    Outcome outcome = Outcome::kNoResponse;
    try {
      outcome = HandleElement(batch[i], ctx, part, target);
    } catch (...) {
      // HandleElement only throws before taking a Sink (allocation failure);
      // answer this element and go on with the others.
      part.clear();
      AppendProtocolError(part, nullptr, kInternalError, "internal error");
    }
    if (outcome == Outcome::kAsync) continue;
    state->parts[i] = std::move(part);
    state->FinishOne();
  }
  state->FinishOne();  // the dispatching thread's own count
}

RpcDispatcher::Outcome RpcDispatcher::HandleElement(const json::value& element,
                                                    const CallContext& ctx,
                                                    std::string& out,
                                                    AsyncTarget& target) {
  const auto record = [&](std::string_view method, int code) {
    metrics_.RecordRequest(method, code, Since(target.start));
  };
  if (!element.is_object()) {
    record("", kInvalidRequest);
    AppendProtocolError(out, nullptr, kInvalidRequest, "request must be an object");
    return Outcome::kResponded;
  }
  const json::object& request = element.get_object();
  const json::value* id = request.if_contains("id");
  const bool notification = id == nullptr;
  // Answers with an error unless this is a notification.
  const auto fail = [&](std::string_view method, const json::value* reply_id, int code,
                        std::string message) {
    record(method, code);
    if (notification) return Outcome::kNoResponse;
    AppendProtocolError(out, reply_id, code, std::move(message));
    return Outcome::kResponded;
  };

  if (id != nullptr && !IsValidIdType(*id)) {
    return fail("", nullptr, kInvalidRequest, "id must be a string, a number or null");
  }
  const json::value* version = request.if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
    return fail("", id, kInvalidRequest, R"(jsonrpc must be "2.0")");
  }
  const json::value* method_value = request.if_contains("method");
  if (method_value == nullptr || !method_value->is_string()) {
    return fail("", id, kInvalidRequest, "method must be a string");
  }
  const json::string& method_string = method_value->get_string();
  const std::string_view method(method_string.data(), method_string.size());

  static const json::object kNoParams;
  const json::object* params = &kNoParams;
  if (const json::value* p = request.if_contains("params")) {
    if (p->is_array()) {
      return fail(method, id, kInvalidParams,
                  "params: positional params are not supported; pass an object of "
                  "named params");
    }
    if (!p->is_object()) return fail(method, id, kInvalidRequest, "params must be an object");
    params = &p->get_object();
  }

  const MethodSpec* spec = registry_.Find(method);
  if (spec == nullptr) {
    return fail(method, id, kMethodNotFound,
                "method not found: " + PrintableExcerpt(method));
  }
  if (Status s = ValidateParams(spec->params, *params, spec->extra_params); !s.ok()) {
    return fail(spec->name, id, kInvalidParams, std::string(s.message()));
  }

  if (spec->execution == Execution::kWorker) {
    return Submit(*spec, *params, id, ctx, target);
  }
  const CallOutcome outcome = RunHandler(*spec, *params, ctx);
  record(spec->name, outcome.error_code);
  if (notification) return Outcome::kNoResponse;
  AppendOutcome(out, id, outcome);
  return Outcome::kResponded;
}

RpcDispatcher::Outcome RpcDispatcher::Submit(const MethodSpec& spec,
                                             const json::object& params,
                                             const json::value* id, const CallContext& ctx,
                                             AsyncTarget& target) {
  // Everything the worker needs, copied out of the parse buffer (which dies
  // when Handle returns) into default storage.
  struct WorkerCall {
    const MethodSpec* spec;
    json::object params;
    json::value id;
    bool notification;
    CallContext ctx;
    SteadyClock::time_point start;
    Metrics* metrics;
    Sink sink;
  };
  auto call = std::make_shared<WorkerCall>(WorkerCall{
      .spec = &spec,
      .params = json::object(params, json::storage_ptr()),
      .id = id ? json::value(*id, json::storage_ptr()) : json::value(),
      .notification = id == nullptr,
      .ctx = ctx,
      .start = target.start,
      .metrics = &metrics_,
      .sink = {},
  });
  std::function<void()> work = [call] {
    std::string response;
    int code = 0;
    try {
      const CallOutcome outcome = RunHandler(*call->spec, call->params, call->ctx);
      code = outcome.error_code;
      if (!call->notification) AppendOutcome(response, &call->id, outcome);
    } catch (...) {
      // Only allocation failures can land here (RunHandler catches the rest).
      code = kInternalError;
      response.clear();
      if (!call->notification) {
        response = R"({"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}})";
      }
    }
    call->metrics->RecordRequest(call->spec->name, code, Since(call->start));
    try {
      call->sink.Complete(std::move(response));
    } catch (...) {
      // A throwing `done` is the transport's bug; a work item must not throw.
      log::Error("rpc", "response callback threw", {{"method", call->spec->name}});
    }
  };
  // From here on the call owns the duty to complete.
  call->sink = target.Take();
  const Status submitted = pool_.Submit(std::move(work));
  if (submitted.ok()) return Outcome::kAsync;

  // The pool refused (and destroyed its copy of the closure): answer here.
  const Status refusal =
      submitted.code() == Code::kResourceExhausted
          ? ResourceExhaustedError("server busy: worker pool queue is full; retry later")
          : UnavailableError("server is shutting down");
  const int code = RpcErrorCode(refusal);
  metrics_.RecordRequest(spec.name, code, Since(target.start));
  std::string response;
  if (!call->notification) AppendError(response, id, StatusToRpcError(refusal, code));
  // The sink was taken: deliver through it, even on the network thread, so
  // the batch bookkeeping stays in one place.
  call->sink.Complete(std::move(response));
  return Outcome::kAsync;
}

}  // namespace sanpool::agent
