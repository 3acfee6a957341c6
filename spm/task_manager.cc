#include "spm/task_manager.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>

#include "base/log.h"

namespace sanpool::spm {
namespace {

Status UnknownTask(std::string_view id) {
  return Status(Code::kNotFound, "Task id unknown: " + std::string(id),
                kUnknownTaskCode);
}

bool IsDone(TaskState state) { return state == TaskState::kFinished; }

bool HasTag(const std::vector<std::string>& tags, std::string_view tag) {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

void RecordOrLog(TaskJournal* journal, const TaskRecord& record,
                 const std::vector<RecoveryStep>& recovery) {
  if (journal == nullptr) return;
  if (Status s = journal->Record(record, recovery); !s.ok()) {
    log::Error("task", "cannot persist task state",
               {{"task", record.id},
                {"state", std::string(ToString(record.state))},
                {"error", s.ToString()}});
  }
}

}  // namespace

std::string_view ToString(TaskState state) {
  switch (state) {
    case TaskState::kInit: return "init";
    case TaskState::kQueued: return "queued";
    case TaskState::kRunning: return "running";
    case TaskState::kFinished: return "finished";
    case TaskState::kAborting: return "aborting";
  }
  return "unknown";
}

std::string_view ToString(TaskResult result) {
  switch (result) {
    case TaskResult::kNone: return "";
    case TaskResult::kSuccess: return "success";
    case TaskResult::kCleanSuccess: return "cleanSuccess";
    case TaskResult::kCleanFailure: return "cleanFailure";
  }
  return "";
}

std::string NewUuid() {
  // random_device reads the kernel's CSPRNG (getrandom) on Linux; one per
  // call is cheap next to what a task does.
  std::random_device rd;
  std::array<uint8_t, 16> b;
  for (size_t i = 0; i < b.size(); i += 4) {
    uint32_t r = rd();
    for (size_t j = 0; j < 4; ++j) b[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                "%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]);
  return std::string(out, 36);
}

void JobContext::SetProgress(int percent) {
  if (set_progress_) set_progress_(std::clamp(percent, 0, 100));
}

Status JobContext::AddRecovery(RecoveryStep step) {
  if (!add_recovery_) return Status::Ok();
  return add_recovery_(std::move(step));
}

TaskManager::TaskManager(Clock& clock, TaskManagerOptions options,
                         StateCallback on_state_change)
    : clock_(clock),
      max_tasks_(options.max_tasks),
      on_state_change_(std::move(on_state_change)),
      pool_(WorkerPoolOptions{.name = options.thread_name,
                              .threads = options.threads,
                              .max_queued = options.max_tasks}) {}

TaskManager::~TaskManager() { Shutdown(); }

Result<std::string> TaskManager::Schedule(std::string verb,
                                          std::vector<std::string> tags,
                                          Job job) {
  std::string id = NewUuid();
  {
    MutexLock notify(notify_mu_);
    TaskRecord snapshot;
    std::shared_ptr<TaskJournal> journal;
    {
      MutexLock lock(mu_);
      if (shut_down_) {
        return FailedPreconditionError("task manager is shut down");
      }
      if (tasks_.size() >= max_tasks_) {
        return Status(Code::kResourceExhausted,
                      "TaskManager error, unable to add task: " +
                          std::to_string(max_tasks_) + " tasks exist",
                      kAddTaskErrorCode);
      }
      auto task = std::make_shared<Task>();
      task->record.id = id;
      task->record.verb = std::move(verb);
      task->record.tags = std::move(tags);
      task->record.state = TaskState::kQueued;
      task->record.start_time = clock_.WallNow();
      if (journal_ != nullptr && HasTag(task->record.tags, "spm")) {
        task->journal = journal_;
        task->journaled = true;
      }
      journal = task->journal;
      snapshot = task->record;
      tasks_.emplace(id, std::move(task));
    }
    // Persisted before the job can start; no record, no task.
    if (journal != nullptr) {
      if (Status s = journal->Record(snapshot, {}); !s.ok()) {
        MutexLock lock(mu_);
        tasks_.erase(id);
        return s.Annotate("persisting task " + id);
      }
    }
    if (on_state_change_) on_state_change_(snapshot);
  }
  // The pool's queue holds max_tasks items and every queued item is a task
  // counted above, so Submit fails only once Shutdown started.
  Status submitted = pool_.Submit([this, id, job = std::move(job)] {
    RunJob(id, job);
  });
  if (!submitted.ok()) {
    Transition(id, [&](TaskRecord& r) {
      r.state = TaskState::kFinished;
      r.result = TaskResult::kCleanSuccess;
      r.code = kTaskAbortedCode;
      r.message = "Task is aborted: " + std::string(submitted.message());
      r.end_time = clock_.WallNow();
    });
    return submitted;
  }
  return id;
}

void TaskManager::Transition(const std::string& id,
                             const std::function<void(TaskRecord&)>& change) {
  MutexLock notify(notify_mu_);
  TaskRecord snapshot;
  std::shared_ptr<TaskJournal> journal;
  std::vector<RecoveryStep> recovery;
  {
    MutexLock lock(mu_);
    auto it = tasks_.find(id);
    // Only finished tasks are cleared, and nothing transitions after that.
    if (it == tasks_.end()) return;
    change(it->second->record);
    snapshot = it->second->record;
    journal = it->second->journal;
    if (journal != nullptr) recovery = it->second->recovery;
  }
  RecordOrLog(journal.get(), snapshot, recovery);
  if (on_state_change_) on_state_change_(snapshot);
}

Status TaskManager::AddRecovery(const std::string& id, RecoveryStep step) {
  MutexLock notify(notify_mu_);
  TaskRecord snapshot;
  std::shared_ptr<TaskJournal> journal;
  std::vector<RecoveryStep> recovery;
  {
    MutexLock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return UnknownTask(id);
    journal = it->second->journal;
    if (journal == nullptr) {
      if (!it->second->journaled) return Status::Ok();
      return FailedPreconditionError(
          "task " + id + " is no longer persisted (the SPM role was lost)");
    }
    it->second->recovery.push_back(std::move(step));
    snapshot = it->second->record;
    recovery = it->second->recovery;
  }
  Status s = journal->Record(snapshot, recovery);
  if (!s.ok()) {
    MutexLock lock(mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end() && !it->second->recovery.empty()) {
      it->second->recovery.pop_back();
    }
    return s.Annotate("persisting a recovery step of task " + id);
  }
  return Status::Ok();
}

void TaskManager::SetJournal(std::shared_ptr<TaskJournal> journal) {
  MutexLock notify(notify_mu_);
  MutexLock lock(mu_);
  if (journal == nullptr) {
    for (auto& [id, task] : tasks_) task->journal.reset();
  }
  journal_ = std::move(journal);
}

Status TaskManager::Restore(TaskRecord record,
                            std::shared_ptr<TaskJournal> journal) {
  if (!IsDone(record.state)) {
    return InvalidArgumentError("only finished tasks can be restored: " +
                                record.id);
  }
  MutexLock lock(mu_);
  if (tasks_.count(record.id) != 0) {
    return Status(Code::kAlreadyExists, "task exists: " + record.id);
  }
  auto task = std::make_shared<Task>();
  std::string id = record.id;
  task->record = std::move(record);
  task->journal = std::move(journal);
  tasks_.emplace(std::move(id), std::move(task));
  return Status::Ok();
}

void TaskManager::SetProgress(const std::string& id, int percent) {
  MutexLock lock(mu_);
  auto it = tasks_.find(id);
  if (it != tasks_.end() && !IsDone(it->second->record.state)) {
    it->second->record.progress = percent;
  }
}

void TaskManager::RunJob(const std::string& id, const Job& job) {
  bool run = false;
  CancellationToken token;
  Transition(id, [&](TaskRecord& r) {
    if (r.stop_requested) {
      r.state = TaskState::kFinished;
      r.result = TaskResult::kCleanSuccess;
      r.code = kTaskAbortedCode;
      r.message = "Task is aborted";
      r.end_time = clock_.WallNow();
      return;
    }
    run = true;
    r.state = TaskState::kRunning;
    r.message = "running job 1 of 1";
  });
  if (!run) return;
  {
    MutexLock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    token = it->second->cancel.Token();
  }
  JobContext ctx([this, id](int percent) { SetProgress(id, percent); },
                 token, [this, id](RecoveryStep step) {
                   return AddRecovery(id, std::move(step));
                 });
  Status status = job(ctx);
  if (!status.ok()) {
    log::Warning("task", "job failed", {{"task", id},
                                        {"error", status.ToString()}});
  }
  Transition(id, [&](TaskRecord& r) {
    r.state = TaskState::kFinished;
    r.end_time = clock_.WallNow();
    if (status.ok()) {
      r.result = TaskResult::kSuccess;
      r.code = 0;
      r.message = "1 jobs completed successfully";
      r.progress = 100;
      return;
    }
    r.result = ctx.not_rolled_back_ ? TaskResult::kCleanFailure
                                    : TaskResult::kCleanSuccess;
    if (status.code() == Code::kCancelled && r.stop_requested) {
      r.code = kTaskAbortedCode;
    } else {
      r.code = status.storage_code() != 0 ? status.storage_code()
                                          : kGeneralExceptionCode;
    }
    r.message = std::string(status.message());
  });
}

Result<TaskRecord> TaskManager::Get(std::string_view id) const {
  MutexLock lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return UnknownTask(id);
  return it->second->record;
}

std::vector<TaskRecord> TaskManager::List() const {
  MutexLock lock(mu_);
  std::vector<TaskRecord> out;
  out.reserve(tasks_.size());
  for (const auto& [id, task] : tasks_) out.push_back(task->record);
  return out;
}

Status TaskManager::Stop(std::string_view id) {
  std::shared_ptr<Task> task;
  Status result;
  {
    MutexLock notify(notify_mu_);
    TaskRecord snapshot;
    bool changed = false;
    {
      MutexLock lock(mu_);
      auto it = tasks_.find(id);
      if (it == tasks_.end()) return UnknownTask(id);
      TaskRecord& r = it->second->record;
      if (IsDone(r.state)) {
        return Status(Code::kFailedPrecondition,
                      "Operation is not allowed in this task state: task " +
                          r.id + " is finished",
                      kTaskStateErrorCode);
      }
      task = it->second;
      if (!r.stop_requested) {
        r.stop_requested = true;
        r.state = TaskState::kAborting;
        snapshot = r;
        changed = true;
      }
    }
    if (changed && on_state_change_) on_state_change_(snapshot);
  }
  // Outside the locks: cancellation callbacks belong to the job.
  task->cancel.Cancel();
  return Status::Ok();
}

Status TaskManager::Clear(std::string_view id) {
  std::shared_ptr<TaskJournal> journal;
  {
    MutexLock lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return UnknownTask(id);
    if (!IsDone(it->second->record.state)) {
      return Status(Code::kFailedPrecondition,
                    "Task not finished: " + std::string(id),
                    kTaskNotFinishedCode);
    }
    journal = it->second->journal;
  }
  // A finished task changes no more, so its record can go outside mu_.
  if (journal != nullptr) {
    RETURN_IF_ERROR(journal->Remove(id));
  }
  MutexLock lock(mu_);
  tasks_.erase(std::string(id));
  return Status::Ok();
}

void TaskManager::Shutdown() {
  // Every unfinished task is marked stopped in one step before any token is
  // cancelled, so a worker freed by one cancellation cannot start a queued
  // job that is about to be stopped.
  std::vector<std::shared_ptr<Task>> to_cancel;
  {
    MutexLock notify(notify_mu_);
    std::vector<TaskRecord> snapshots;
    {
      MutexLock lock(mu_);
      shut_down_ = true;
      for (const auto& [id, task] : tasks_) {
        TaskRecord& r = task->record;
        if (IsDone(r.state)) continue;
        to_cancel.push_back(task);
        if (!r.stop_requested) {
          r.stop_requested = true;
          r.state = TaskState::kAborting;
          snapshots.push_back(r);
        }
      }
    }
    if (on_state_change_) {
      for (const TaskRecord& r : snapshots) on_state_change_(r);
    }
  }
  for (const auto& task : to_cancel) task->cancel.Cancel();
  pool_.Shutdown();
}

}  // namespace sanpool::spm
