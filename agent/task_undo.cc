#include "agent/task_undo.h"

#include <cerrno>

#include "base/log.h"
#include "domains/file/file_image.h"
#include "domains/file/file_volume.h"
#include "domains/file/fs_util.h"

namespace sanpool::agent {
namespace {

constexpr std::string_view kLog = "task-undo";

Status RemoveVolume(DomainRegistry& domains, const spm::RecoveryStep& step) {
  if (step.args.size() != 3) {
    return InvalidArgumentError("remove_volume wants sd, img, vol");
  }
  const std::string& img = step.args[1];
  const std::string& vol = step.args[2];
  ASSIGN_OR_RETURN(auto d, domains.Get(step.args[0]));
  Status deleted = d->volumes->Delete(img, vol);
  if (deleted.ok()) return deleted;
  if (deleted.code() != Code::kNotFound) return deleted;
  // No volume (no .meta): remove whatever a create left before its commit
  // point. Nothing at all is the common case (a create that never began).
  const file_domain::FileDomainLayout& layout = d->domain->layout();
  ASSIGN_OR_RETURN(file_domain::VolumePaths paths, layout.Volume(img, vol));
  Env& env = d->domain->env();
  RETURN_IF_ERROR(file_domain::RemoveIfExists(env, paths.data));
  RETURN_IF_ERROR(file_domain::RemoveIfExists(env, paths.lease));
  RETURN_IF_ERROR(file_domain::RemoveIfExists(env, paths.meta));
  ASSIGN_OR_RETURN(std::string img_dir, layout.ImageDir(img));
  Status rm = env.RemoveDir(img_dir);
  if (!rm.ok() && !IsErrno(rm, ENOENT) && !IsErrno(rm, ENOTEMPTY) &&
      !IsErrno(rm, EEXIST)) {
    return rm;
  }
  log::Info(kLog, "removed a partial volume",
            {{"sd", step.args[0]}, {"img", img}, {"vol", vol}});
  return Status::Ok();
}

Status RemoveImage(DomainRegistry& domains, const spm::RecoveryStep& step) {
  if (step.args.size() != 2) {
    return InvalidArgumentError("remove_image wants sd, img");
  }
  const std::string& img = step.args[1];
  ASSIGN_OR_RETURN(auto d, domains.Get(step.args[0]));
  Status deleted = d->images->Delete(img);
  if (!deleted.ok() && deleted.code() != Code::kNotFound) return deleted;
  ASSIGN_OR_RETURN(std::string removed, d->domain->layout().RemovedImageDir(img));
  return file_domain::RemoveTree(d->domain->env(), removed);
}

}  // namespace

spm::RecoveryStep RemoveVolumeStep(std::string sd, std::string img,
                                   std::string vol) {
  return {.action = std::string(kRemoveVolumeAction),
          .args = {std::move(sd), std::move(img), std::move(vol)}};
}

spm::RecoveryStep RemoveImageStep(std::string sd, std::string img) {
  return {.action = std::string(kRemoveImageAction),
          .args = {std::move(sd), std::move(img)}};
}

spm::UndoRunner MakeStorageUndo(DomainRegistry& domains) {
  return [&domains](const spm::RecoveryStep& step) -> Status {
    if (step.action == kRemoveVolumeAction) return RemoveVolume(domains, step);
    if (step.action == kRemoveImageAction) return RemoveImage(domains, step);
    return Status(Code::kUnimplemented,
                  "unknown recovery step: " + step.action);
  };
}

}  // namespace sanpool::agent
