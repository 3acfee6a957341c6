// The recovery (undo) steps of the storage verbs' SPM tasks, and the runner
// the next SPM uses to roll an unfinished task back (spm/task_recovery.h,
// doc/formats/tasks.md).
//
//   remove_volume sd img vol   Volume.create registers it before creating;
//                              Volume.delete before deleting (finishing a
//                              started delete is its only consistent undo).
//   remove_image  sd img       Image.copy (destination image, only when it
//                              did not exist before); Image.delete.
//
// Every step is idempotent: an absent volume or image is done.
//
// Thread-safety: the runner is stateless apart from `domains`, which must
// outlive it. Blocking: storage I/O, qemu-img.
#ifndef SANPOOL_AGENT_TASK_UNDO_H_
#define SANPOOL_AGENT_TASK_UNDO_H_

#include <string>

#include "domains/domain_registry.h"
#include "spm/task_manager.h"
#include "spm/task_recovery.h"

namespace sanpool::agent {

inline constexpr std::string_view kRemoveVolumeAction = "remove_volume";
inline constexpr std::string_view kRemoveImageAction = "remove_image";

spm::RecoveryStep RemoveVolumeStep(std::string sd, std::string img,
                                   std::string vol);
spm::RecoveryStep RemoveImageStep(std::string sd, std::string img);

// remove_volume: FileVolumes::Delete; a volume without `.meta` (created up
// to before its commit point) has its data, `.lease` and `.meta` files
// removed, and its image directory too when that is left empty.
// remove_image: FileImages::Delete, plus the `_remove_me_<img>` directory an
// interrupted delete left behind. Errors: kInvalidArgument for a malformed
// step, kUnimplemented for an unknown action, the storage's otherwise (a
// volume with children is not removed: 204).
spm::UndoRunner MakeStorageUndo(DomainRegistry& domains);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_TASK_UNDO_H_
