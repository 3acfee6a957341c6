#include "spm/block_extend.h"

namespace sanpool::spm {

std::vector<Result<uint64_t>> BlockExtender::ExtendVolumes(
    const std::string& domain_uuid, const std::vector<VolumeTarget>& volumes) {
  Result<block::BlockVolumes*> domain = lookup_(domain_uuid);
  if (!domain.ok()) {
    return std::vector<Result<uint64_t>>(volumes.size(), domain.status());
  }
  std::vector<Result<uint64_t>> out;
  out.reserve(volumes.size());
  for (const VolumeTarget& v : volumes) {
    const uint64_t mib = (v.target_bytes + mailbox::kMiB - 1) / mailbox::kMiB;
    out.push_back((*domain)->ExtendLv(v.volume_uuid, mib));
  }
  return out;
}

Result<uint64_t> BlockRefresher::Refresh(
    const mailbox::ExtendRequest& request) {
  lvm_.InvalidateLvs(request.domain_uuid);
  RETURN_IF_ERROR(activator_.Refresh(request.domain_uuid, request.volume_uuid));
  ASSIGN_OR_RETURN(lvm::Lv lv,
                   lvm_.GetLv(request.domain_uuid, request.volume_uuid));
  return lv.size_bytes;
}

}  // namespace sanpool::spm
