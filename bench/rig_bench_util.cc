#include "bench/rig_bench_util.h"

#include <iostream>
#include <thread>

#include <boost/json.hpp>

namespace sanpool::bench {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

Result<json::value> RigCall(rig::Rig& r, int host, const std::string& method,
                            const json::value& params,
                            std::chrono::seconds timeout) {
  ASSIGN_OR_RETURN(agent::RpcReply reply, r.Call(host, method, params, timeout));
  if (!reply.ok()) {
    return Status(Code::kUnknown,
                  "host " + std::to_string(host) + " " + method + ": error " +
                      std::to_string(reply.error->code) + ": " +
                      reply.error->message,
                  static_cast<int>(reply.error->code));
  }
  return reply.result;
}

std::string SpmState(rig::Rig& r, int host, const std::string& pool) {
  Result<json::value> v = RigCall(r, host, "StoragePool.getSpmStatus",
                                  json::object{{"storagepoolID", pool}});
  if (!v.ok() || !v->is_object()) return "";
  const json::value* s = v->as_object().if_contains("spmStatus");
  return s != nullptr && s->is_string() ? std::string(s->get_string()) : "";
}

int WaitForSpm(rig::Rig& r, const std::vector<int>& hosts,
               const std::string& pool, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    for (int h : hosts) {
      if (SpmState(r, h, pool) == "SPM") return h;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

Status SetUpFilePool(rig::Rig& r, int hosts, const std::string& pool,
                     const std::string& master) {
  const std::string nas = r.layout().nas_dir;
  for (int h = 1; h <= hosts; ++h) {
    RETURN_IF_ERROR(
        RigCall(r, h, "StoragePool.connectStorageServer",
                json::object{{"domainType", 4},
                             {"connectionParams",
                              json::array{{{"id", "nas"}, {"connection", nas}}}}})
            .status());
  }
  RETURN_IF_ERROR(RigCall(r, 1, "StorageDomain.create",
                          json::object{{"storagedomainID", master},
                                       {"domainType", 4},
                                       {"typeArgs", nas},
                                       {"name", "master"},
                                       {"domainClass", 1}})
                      .status());
  RETURN_IF_ERROR(RigCall(r, 1, "StoragePool.create",
                          json::object{{"storagepoolID", pool},
                                       {"name", "bench"},
                                       {"masterSdUUID", master},
                                       {"masterVersion", 1},
                                       {"domainList", json::array{master}}})
                      .status());
  for (int h = 1; h <= hosts; ++h) {
    RETURN_IF_ERROR(RigCall(r, h, "StoragePool.connect",
                            json::object{{"storagepoolID", pool},
                                         {"hostID", h},
                                         {"masterSdUUID", master},
                                         {"masterVersion", 1}})
                        .status());
  }
  return Status::Ok();
}

Status WaitTask(rig::Rig& r, int host, const std::string& task,
                std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    ASSIGN_OR_RETURN(json::value v, RigCall(r, host, "Task.getStatus",
                                            json::object{{"taskID", task}}));
    const json::object* s = v.if_object();
    if (s == nullptr) return UnknownError("Task.getStatus: not an object");
    const json::value* state = s->if_contains("taskState");
    if (state != nullptr && state->is_string() && state->get_string() == "finished") {
      const json::value* code = s->if_contains("code");
      const bool ok = code == nullptr ||
                      (code->is_int64() && code->get_int64() == 0) ||
                      (code->is_string() && code->get_string() == "0");
      if (ok) return Status::Ok();
      return UnknownError("task " + task + " failed: " + json::serialize(*s));
    }
    if (Clock::now() > deadline) {
      return DeadlineExceededError("task " + task + " not finished in " +
                                   std::to_string(limit.count()) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status RunOnRig(rig::Rig& r, const rig::UpOptions& up,
                const std::function<Status()>& body, const std::string& name) {
  (void)r.Down();  // a rig left by an interrupted run
  Status run = r.Up(up);
  if (run.ok()) run = body();
  Status down = r.Down();
  if (!run.ok()) return run;
  if (!down.ok()) std::cerr << name << ": rig down: " << down.ToString() << "\n";
  return down;
}

}  // namespace sanpool::bench
