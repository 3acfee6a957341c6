// TaskStore: the SPM's persistent tasks in the master domain's
// `master/tasks/` directory (reference §6, "Persistence format"; our own
// format, documented in doc/formats/tasks.md).
//
// One directory per task, `<tasks_dir>/<taskUUID>/`, holding one file,
// `task`: the task record (id, verb, tags, state, result, code, message,
// times), the parameters its undo needs and the ordered list of recovery
// (undo) steps the job registered, ending in a checksum line. Every Save
// rewrites the file with Env::WriteFileAtomic, so a crash leaves the old or
// the new record, never a mix.
//
//   TaskStore store(env, master_fs->tasks_dir());
//   RETURN_IF_ERROR(store.Save({.record = r, .recovery = steps}));
//   ASSIGN_OR_RETURN(TaskStore::Loaded all, store.LoadAll());
//
// Reading a record that is not whole (no `task` file yet, an empty or cut
// file: a torn write through a path that bypassed WriteFileAtomic, or a
// leftover temporary file) is kNotFound: LoadAll skips it with a warning.
// A whole record that does not parse or whose checksum does not match is
// kDataLoss (storage code kTaskRecordCorrupt): LoadAll reports it in
// `corrupt` and leaves it on storage for the administrator. Nothing here
// aborts on bad input.
//
// Thread-safety: thread-safe as far as the Env is; concurrent Saves of the
// same task must be serialized by the caller (TaskManager does).
// Blocking: file I/O on the master domain.
#ifndef SANPOOL_SPM_TASK_STORE_H_
#define SANPOOL_SPM_TASK_STORE_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "spm/task_manager.h"

namespace sanpool::spm {

// VDSM's TaskMetaDataLoadError-like code for a corrupt persisted task.
inline constexpr int kTaskRecordCorruptCode = 402;

// Everything persisted for one task.
struct PersistedTask {
  TaskRecord record;
  std::vector<RecoveryStep> recovery;  // in registration order
};

class TaskStore final : public TaskJournal {
 public:
  // `env` must outlive the store. `tasks_dir` is master/tasks (it must
  // exist for Save; LoadAll treats a missing dir as empty).
  TaskStore(Env& env, std::string tasks_dir)
      : env_(env), tasks_dir_(std::move(tasks_dir)) {}

  const std::string& tasks_dir() const { return tasks_dir_; }

  // Writes the record atomically (creating the task's directory).
  // Errors: the storage's; kInvalidArgument for an id that is not a UUID.
  Status Save(const PersistedTask& task);
  // TaskJournal: Save.
  Status Record(const TaskRecord& record,
                const std::vector<RecoveryStep>& recovery) override {
    return Save({.record = record, .recovery = recovery});
  }
  // Removes the task's directory. OK if it does not exist.
  Status Remove(std::string_view id) override;

  // One record: kNotFound when absent or not whole; kDataLoss 402 when
  // corrupt; storage errors as they are.
  Result<PersistedTask> Load(std::string_view id);

  struct Loaded {
    std::vector<PersistedTask> tasks;  // by id
    std::vector<std::string> corrupt;  // ids of corrupt records
    std::vector<std::string> ignored;  // ids with no whole record
  };
  // Every task directory under tasks_dir. Errors only when the directory
  // cannot be listed (a missing directory is empty).
  Result<Loaded> LoadAll();

  // The file format, exposed for tests.
  static std::string Encode(const PersistedTask& task);
  // kNotFound for a cut record, kDataLoss for a corrupt one.
  static Result<PersistedTask> Decode(std::string_view text);

 private:
  std::string TaskDir(std::string_view id) const;
  Env& env_;
  const std::string tasks_dir_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_TASK_STORE_H_
