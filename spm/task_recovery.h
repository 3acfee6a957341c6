// SpmTaskPersistence: what the SPM does with persistent tasks when it takes
// and gives up the role (reference §6 "Failover recovery").
//
//   SpmTaskPersistence persistence(env, tasks, undo);   // main()
//   Spm spm({..., .task_persistence = &persistence}, ...);
//
// Activate(tasks_dir), on becoming SPM before any SPM verb is accepted:
//  1. loads every task the previous SPM left in master/tasks (TaskStore);
//  2. a finished one is re-listed as it is (Task.getStatus/clear work);
//  3. an unfinished one (queued, running, aborting) is rolled back: its
//     recovery steps run newest first through `undo` (which must be
//     idempotent: a step may have run before, or its work never happened);
//     then it is recorded finished, code 411, message "rolled back by new
//     SPM" and result cleanSuccess, or cleanFailure with the first undo
//     error when a step failed (the remaining steps still run);
//  4. the TaskManager journals new "spm" tasks into the same store.
// Corrupt and torn records are skipped (TaskStore logs them). Errors: only
// when the tasks dir cannot be listed; the SPM start fails then.
// Deactivate(), first thing when the role is lost or given up: detaches the
// journal so nothing more is written to the master.
//
// Thread-safety: the Spm calls both under its operation lock; not meant to
// be called concurrently. Blocking: storage I/O and the undo steps.
#ifndef SANPOOL_SPM_TASK_RECOVERY_H_
#define SANPOOL_SPM_TASK_RECOVERY_H_

#include <functional>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "spm/task_manager.h"
#include "spm/task_store.h"

namespace sanpool::spm {

inline constexpr std::string_view kRolledBackMessage =
    "rolled back by new SPM";

// Runs one recovery step. Must be idempotent; kUnimplemented for an
// unknown action.
using UndoRunner = std::function<Status(const RecoveryStep& step)>;

struct TaskRecoveryReport {
  size_t kept = 0;         // finished tasks re-listed
  size_t rolled_back = 0;  // unfinished tasks rolled back (all steps OK)
  size_t failed = 0;       // unfinished tasks whose undo failed
  size_t skipped = 0;      // corrupt or torn records
};

// Steps 1-3 above on one store (no journal change).
Result<TaskRecoveryReport> RecoverTasks(TaskStore& store, TaskManager& tasks,
                                        const UndoRunner& undo);

class SpmTaskPersistence {
 public:
  // `env` and `tasks` must outlive this object.
  SpmTaskPersistence(Env& env, TaskManager& tasks, UndoRunner undo)
      : env_(env), tasks_(tasks), undo_(std::move(undo)) {}

  Result<TaskRecoveryReport> Activate(const std::string& tasks_dir);
  void Deactivate() { tasks_.SetJournal(nullptr); }

 private:
  Env& env_;
  TaskManager& tasks_;
  UndoRunner undo_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_TASK_RECOVERY_H_
