#include "agent/task_methods.h"

#include <string>
#include <utility>

#include "agent/storage_params.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

Result<spm::TaskManager*> Tasks(const StorageServices* s) {
  if (s->tasks == nullptr) {
    return UnavailableError("storage services are not started");
  }
  return s->tasks;
}

ParamSpec TaskId() {
  return ParamSpec{.name = "taskID", .type = ParamType::kUuid,
                   .description = "Task UUID"};
}

std::string Id(const json::object& p) { return StringParam(p, "taskID"); }

Status AddInline(MethodRegistry& r, std::string name, std::string description,
                 std::vector<ParamSpec> params, std::string result,
                 std::function<Result<json::value>(const json::object&)> f) {
  return r.Register(MethodSpec{
      .name = std::move(name),
      .description = std::move(description),
      .params = std::move(params),
      .result_description = std::move(result),
      .execution = Execution::kInline,
      .handler = [f = std::move(f)](const json::object& p, const CallContext&)
          -> Result<json::value> { return f(p); },
  });
}

// Host.getAllTasks*: a map by task id; SPM-only as in oVirt.
Result<json::value> AllTasks(const StorageServices* s,
                             json::object (*shape)(const spm::TaskRecord&)) {
  if (s->role == nullptr) return UnavailableError("storage services are not started");
  RETURN_IF_ERROR(s->role->RequireSpm());
  ASSIGN_OR_RETURN(spm::TaskManager * tasks, Tasks(s));
  json::object out;
  for (const spm::TaskRecord& t : tasks->List()) out[t.id] = shape(t);
  return json::value(std::move(out));
}

}  // namespace

Status RegisterTaskMethods(MethodRegistry& r, const StorageServices* s) {
  RETURN_IF_ERROR(AddInline(
      r, "Task.getStatus", "State and result of a task (401 if unknown).",
      {TaskId()},
      "object: `taskID`, `taskState` (init/running/finished/aborting), "
      "`taskResult` (\"\"/success/cleanSuccess/cleanFailure), `code` (0 or "
      "the failure's storage code), `message`, `progress` (0-100)",
      [s](const json::object& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(spm::TaskManager * tasks, Tasks(s));
        ASSIGN_OR_RETURN(spm::TaskRecord t, tasks->Get(Id(p)));
        return json::value(TaskStatusJson(t));
      }));
  RETURN_IF_ERROR(AddInline(
      r, "Task.getInfo", "What a task is (401 if unknown).", {TaskId()},
      "object: `id`, `verb`, `state` (init/queued/running/aborting/"
      "finished), `tags`, `progress`, `startTime`, `endTime` (unix seconds "
      "or null)",
      [s](const json::object& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(spm::TaskManager * tasks, Tasks(s));
        ASSIGN_OR_RETURN(spm::TaskRecord t, tasks->Get(Id(p)));
        return json::value(TaskInfoJson(t));
      }));
  RETURN_IF_ERROR(AddInline(
      r, "Task.stop",
      "Cancels a queued or running task (410 once finished, 401 if "
      "unknown). A queued task never runs; a running job is asked to stop.",
      {TaskId()}, "`null`",
      [s](const json::object& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(spm::TaskManager * tasks, Tasks(s));
        RETURN_IF_ERROR(tasks->Stop(Id(p)));
        return json::value(nullptr);
      }));
  RETURN_IF_ERROR(AddInline(
      r, "Task.clear", "Forgets a finished task (403 while not finished).",
      {TaskId()}, "`null`",
      [s](const json::object& p) -> Result<json::value> {
        ASSIGN_OR_RETURN(spm::TaskManager * tasks, Tasks(s));
        RETURN_IF_ERROR(tasks->Clear(Id(p)));
        return json::value(nullptr);
      }));
  RETURN_IF_ERROR(AddInline(
      r, "Host.getAllTasksStatuses",
      "SPM: Task.getStatus of every task, by task id.", {},
      "object: taskID -> Task.getStatus object",
      [s](const json::object&) { return AllTasks(s, TaskStatusJson); }));
  return AddInline(
      r, "Host.getAllTasksInfo", "SPM: Task.getInfo of every task, by task id.",
      {}, "object: taskID -> Task.getInfo object",
      [s](const json::object&) { return AllTasks(s, TaskInfoJson); });
}

spm::TaskManager::StateCallback TaskStatePublisher(NotificationHub& hub) {
  return [&hub](const spm::TaskRecord& t) {
    json::object params = TaskStatusJson(t);
    params["verb"] = t.verb;
    params["state"] = spm::ToString(t.state);
    hub.Publish(kTaskStateChangedEvent, std::move(params));
  };
}

}  // namespace sanpool::agent
