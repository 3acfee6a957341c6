// The `master` LV of a block domain: its ext3 file system (reference §2.2,
// §2.4 "Master FS mount"; doc/spm.md "Block master"). The LV holds the
// pool's master tree (vms/, tasks/) while its domain is a pool master; the
// SPM mounts it (spm/master_fs.h BlockMasterFs).
//
//   MakeMasterFileSystem   at StorageDomain.create, once:
//                          mkfs.ext3 -q -j -E nodiscard -F <device>
//   CheckMasterFileSystem  before every mount: fsck.ext3 -p <device>;
//                          exit 0 (clean), 1 (errors corrected) and 2/3
//                          (corrected, reboot advised) are OK as in
//                          oVirt's mountMaster; 4 and above are errors.
//
// `device` is the mapped LV (Activator::Activate). The tools run through the
// ProcessRunner, never a shell, with a bound on their run time.
//
// Blocking: runs the tools (mkfs of 1 GiB: seconds). Thread-safety: pure
// functions; never two on the same device at once (the caller serializes).
#ifndef SANPOOL_DOMAINS_BLOCK_MASTER_LV_H_
#define SANPOOL_DOMAINS_BLOCK_MASTER_LV_H_

#include <chrono>
#include <string>

#include "base/process.h"
#include "base/status.h"

namespace sanpool::block {

inline constexpr char kMkfsExt3[] = "mkfs.ext3";
inline constexpr char kFsckExt3[] = "fsck.ext3";
inline constexpr std::chrono::seconds kMasterFsToolTimeout{300};

// Errors: the runner's (kNotFound when mkfs.ext3 is missing), CheckExit's
// for a failed mkfs.
Status MakeMasterFileSystem(ProcessRunner& runner, const std::string& device);

// Errors: the runner's; kDataLoss "fsck.ext3 found errors it could not
// correct" (exit 4+: the file system needs a manual fsck), with details
// exit_code and stderr; CheckExit's for a killed or timed out fsck.
Status CheckMasterFileSystem(ProcessRunner& runner, const std::string& device);

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_MASTER_LV_H_
