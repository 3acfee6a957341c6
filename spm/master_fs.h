// MasterFs: the master domain's `master` file system, which the SPM prepares
// when it takes the role and releases when it gives it up (reference §3.3
// step 7, §3.4): it holds `vms/` and `tasks/` (the SPM's persistent tasks).
//
//   file master domain: the directory <domain>/master (FileMasterFs below);
//   block master domain: the `master` LV with ext3 (made at
//                        StorageDomain.create, domains/block/master_lv.h),
//                        fsck then mount (BlockMasterFs below).
//
// Thread-safety: the SPM calls Prepare/Release under its operation lock;
// implementations need no locking of their own.
#ifndef SANPOOL_SPM_MASTER_FS_H_
#define SANPOOL_SPM_MASTER_FS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/process.h"
#include "base/status.h"
#include "domains/mount_info.h"

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

// The block master (doc/spm.md "Block master"): the mapped `master` LV
// mounted at `mount_dir` (<run_dir>/master/<sdUUID>/master), holding vms/
// and tasks/.
//
// Prepare: already mounted there from `device` (an agent restart while
// SPM): only the tree is made. Otherwise `fsck.ext3 -p` (CheckMasterFileSystem:
// exit codes 0..3 go on, 4+ fail the start), `mount -t ext3 <device>
// <mount_dir>` (ProcessRunner, no shell), then vms/ and tasks/; a failure
// after the mount unmounts again. Something else mounted at `mount_dir`:
// kFailedPrecondition.
// Release: `umount <mount_dir>`; if that fails (busy: an open file), the
// error is logged and `umount -l` detaches it (lazy: the last resort, the
// file system goes away when its last user does); an error only when both
// fail. Not mounted: OK.
//
// Errors: the tools' (CheckExit: kUnknown with exit code and stderr), the
// runner's (kNotFound for a missing tool), Env's for the tree and for
// reading `mountinfo_path`.
struct BlockMasterFsOptions {
  std::string device;     // the mapped master LV
  std::string mount_dir;  // the mount point (made when missing)
  std::string mountinfo_path = "/proc/self/mountinfo";
  std::chrono::seconds tool_timeout{60};  // mount / umount
};

class BlockMasterFs final : public MasterFs {
 public:
  // `env` and `runner` must outlive this object; `keep` is held while it
  // lives (the owner of the device mapping).
  BlockMasterFs(Env& env, ProcessRunner& runner, BlockMasterFsOptions options,
                std::shared_ptr<const void> keep = nullptr)
      : env_(env),
        runner_(runner),
        options_(std::move(options)),
        keep_(std::move(keep)) {}
  Status Prepare() override;
  Status Release() override;
  std::string tasks_dir() const override {
    return options_.mount_dir + "/tasks";
  }

 private:
  // What is mounted at the mount point, if anything.
  Result<std::optional<MountEntry>> Mounted();
  Status RunTool(std::vector<std::string> argv, std::string_view what);

  Env& env_;
  ProcessRunner& runner_;
  const BlockMasterFsOptions options_;
  const std::shared_ptr<const void> keep_;
};

// At agent start (oVirt's cleanupMasterMount): lazily unmounts every ext3
// file system mounted below `root` (block masters left mounted by a killed
// agent). Returns the mount points it detached; errors of reading
// `mountinfo_path` only (a failed umount is logged and skipped).
Result<std::vector<std::string>> CleanupMasterMounts(
    Env& env, ProcessRunner& runner, const std::string& root,
    const std::string& mountinfo_path = "/proc/self/mountinfo");

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_MASTER_FS_H_
