// MasterFs: the master domain's `master` file system, which the SPM prepares
// when it takes the role and releases when it gives it up (reference §3.3
// step 7, §3.4): it holds `vms/` and `tasks/` (the SPM's persistent tasks).
//
//   file master domain: the directory <domain>/master (FileMasterFs below);
//   block master domain: the `master` LV with ext3, fsck then mount (a later
//                        implementation of this interface).
//
// Thread-safety: the SPM calls Prepare/Release under its operation lock;
// implementations need no locking of their own.
#ifndef SANPOOL_SPM_MASTER_FS_H_
#define SANPOOL_SPM_MASTER_FS_H_

#include <string>

#include "base/env.h"
#include "base/status.h"

namespace sanpool::spm {

class MasterFs {
 public:
  virtual ~MasterFs() = default;
  // Makes the master tree available: master/, master/vms, master/tasks.
  // Idempotent. Errors: the storage's (EIO, ENOSPC...).
  virtual Status Prepare() = 0;
  // Gives it up (block: unmount). Idempotent; file domains: nothing to do.
  virtual Status Release() = 0;
  // Where persistent SPM tasks live while prepared.
  virtual std::string tasks_dir() const = 0;
};

class FileMasterFs final : public MasterFs {
 public:
  // `domain_dir` = <mount>/<sdUUID>; `env` must outlive this object.
  FileMasterFs(Env& env, std::string domain_dir)
      : env_(env), master_dir_(std::move(domain_dir) + "/master") {}
  Status Prepare() override;
  Status Release() override { return Status::Ok(); }
  std::string tasks_dir() const override { return master_dir_ + "/tasks"; }

 private:
  Env& env_;
  std::string master_dir_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_MASTER_FS_H_
