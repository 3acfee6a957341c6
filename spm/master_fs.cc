#include "spm/master_fs.h"

namespace sanpool::spm {

Status FileMasterFs::Prepare() {
  // oVirt's createMasterTree: master/vms and master/tasks (0755).
  RETURN_IF_ERROR(env_.CreateDirs(master_dir_ + "/vms", 0755));
  RETURN_IF_ERROR(env_.CreateDirs(master_dir_ + "/tasks", 0755));
  return env_.SyncDir(master_dir_);
}

}  // namespace sanpool::spm
