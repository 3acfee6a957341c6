#include "spm/task_recovery.h"

#include "base/log.h"

namespace sanpool::spm {
namespace {

constexpr std::string_view kLog = "task-recovery";

bool Unfinished(TaskState state) { return state != TaskState::kFinished; }

std::string Describe(const RecoveryStep& step) {
  std::string out = step.action;
  for (const std::string& arg : step.args) out += " " + arg;
  return out;
}

}  // namespace

Result<TaskRecoveryReport> RecoverTasks(TaskStore& store, TaskManager& tasks,
                                        const UndoRunner& undo) {
  ASSIGN_OR_RETURN(TaskStore::Loaded loaded, store.LoadAll());
  TaskRecoveryReport report;
  report.skipped = loaded.corrupt.size() + loaded.ignored.size();
  // The store outlives this call as the journal of restored tasks only
  // through a shared copy (Clear removes their records).
  auto journal = std::make_shared<TaskStore>(store);
  for (PersistedTask& task : loaded.tasks) {
    TaskRecord& r = task.record;
    if (Unfinished(r.state)) {
      log::Warning(kLog, "rolling back an unfinished task",
                   {{"task", r.id}, {"verb", r.verb},
                    {"state", std::string(ToString(r.state))},
                    {"steps", task.recovery.size()}});
      Status first_error;
      for (auto it = task.recovery.rbegin(); it != task.recovery.rend();
           ++it) {
        Status s = undo(*it);
        if (!s.ok()) {
          log::Error(kLog, "undo step failed",
                     {{"task", r.id}, {"step", Describe(*it)},
                      {"error", s.ToString()}});
          if (first_error.ok()) first_error = s;
        }
      }
      r.state = TaskState::kFinished;
      r.code = kTaskAbortedCode;
      r.end_time = r.end_time.value_or(r.start_time);
      if (first_error.ok()) {
        r.result = TaskResult::kCleanSuccess;
        r.message = std::string(kRolledBackMessage);
        ++report.rolled_back;
      } else {
        r.result = TaskResult::kCleanFailure;
        r.message = std::string(kRolledBackMessage) + " failed: " +
                    first_error.ToString();
        ++report.failed;
      }
      // Steps are kept: they document what was undone.
      if (Status s = store.Save(task); !s.ok()) {
        log::Error(kLog, "cannot record the rollback",
                   {{"task", r.id}, {"error", s.ToString()}});
      }
    } else {
      ++report.kept;
    }
    Status s = tasks.Restore(r, journal);
    if (!s.ok() && s.code() != Code::kAlreadyExists) {
      log::Warning(kLog, "cannot re-list task",
                   {{"task", r.id}, {"error", s.ToString()}});
    }
  }
  log::Info(kLog, "persistent tasks loaded",
            {{"dir", store.tasks_dir()}, {"kept", report.kept},
             {"rolled_back", report.rolled_back}, {"failed", report.failed},
             {"skipped", report.skipped}});
  return report;
}

Result<TaskRecoveryReport> SpmTaskPersistence::Activate(
    const std::string& tasks_dir) {
  auto store = std::make_shared<TaskStore>(env_, tasks_dir);
  ASSIGN_OR_RETURN(TaskRecoveryReport report,
                   RecoverTasks(*store, tasks_, undo_));
  tasks_.SetJournal(store);
  return report;
}

}  // namespace sanpool::spm
