#include "spm/block_extend.h"

#include <map>
#include <utility>

namespace sanpool::spm {

std::vector<Result<uint64_t>> BlockExtender::ExtendVolumes(
    const std::string& domain_uuid, const std::vector<VolumeTarget>& volumes) {
  Result<block::BlockVolumes*> domain = lookup_(domain_uuid);
  if (!domain.ok()) {
    return std::vector<Result<uint64_t>>(volumes.size(), domain.status());
  }
  if (lvm_ != nullptr) return ExtendBatch(domain_uuid, volumes);
  std::vector<Result<uint64_t>> out;
  out.reserve(volumes.size());
  for (const VolumeTarget& v : volumes) {
    const uint64_t mib = (v.target_bytes + mailbox::kMiB - 1) / mailbox::kMiB;
    out.push_back((*domain)->ExtendLv(v.volume_uuid, mib));
  }
  return out;
}

std::vector<Result<uint64_t>> BlockExtender::ExtendBatch(
    const std::string& vg, const std::vector<VolumeTarget>& volumes) {
  std::vector<lvm::LvExtendItem> items;
  items.reserve(volumes.size());
  for (const VolumeTarget& v : volumes) {
    const uint64_t mib = (v.target_bytes + mailbox::kMiB - 1) / mailbox::kMiB;
    items.push_back({v.volume_uuid, lvm::LvSize::MiB(mib)});
  }
  const std::vector<Status> extended = lvm_->LvExtendMany(vg, items);
  // One `lvs <vg>` for the batch; the reloads and sizes below use it.
  std::map<std::string, lvm::Lv> lvs;
  Status listed = Status::Ok();
  if (Result<std::vector<lvm::Lv>> all = lvm_->GetAllLvs(vg); all.ok()) {
    for (lvm::Lv& lv : *all) lvs.emplace(lv.name, std::move(lv));
  } else {
    listed = all.status();
  }
  std::vector<Result<uint64_t>> out;
  out.reserve(volumes.size());
  for (size_t i = 0; i < volumes.size(); ++i) {
    if (!extended[i].ok()) {
      out.push_back(extended[i]);
      continue;
    }
    if (!listed.ok()) {
      out.push_back(listed);
      continue;
    }
    Status refreshed = activator_->Refresh(vg, volumes[i].volume_uuid,
                                           block::Activator::CacheState::kFresh);
    if (!refreshed.ok()) {
      out.push_back(refreshed);
      continue;
    }
    auto it = lvs.find(volumes[i].volume_uuid);
    if (it == lvs.end()) {
      out.push_back(Status(Code::kNotFound,
                           "LV " + vg + "/" + volumes[i].volume_uuid +
                               " not found after lvextend",
                           lvm::lvm_code::kLogicalVolumeDoesNotExist));
      continue;
    }
    out.push_back(it->second.size_bytes);
  }
  return out;
}

Result<uint64_t> BlockRefresher::Refresh(
    const mailbox::ExtendRequest& request, Changed changed) {
  const std::string& vg = request.domain_uuid;
  {
    MutexLock lock(mu_);
    ++stats_.refreshes;
  }
  if (changed == Changed::kHere) {
    ASSIGN_OR_RETURN(lvm::Lv lv, lvm_.GetLv(vg, request.volume_uuid));
    RETURN_IF_ERROR(activator_.Refresh(vg, request.volume_uuid,
                                       block::Activator::CacheState::kFresh));
    return lv.size_bytes;
  }
  std::shared_ptr<Round> round;
  bool lead = false;
  {
    MutexLock lock(mu_);
    VgRounds& rounds = vgs_[vg];  // never erased: one entry per VG
    if (!rounds.next) rounds.next = std::make_shared<Round>();
    round = rounds.next;
    // Another caller may lead `round` while this one waits.
    while (!round->started && rounds.running) round_done_.Wait(mu_);
    if (!round->started) {
      round->started = true;
      rounds.running = round;
      rounds.next.reset();
      lead = true;
      ++stats_.rereads;
    }
  }
  if (lead) {
    lvm_.InvalidateLvs(vg);
    Result<std::vector<lvm::Lv>> lvs = lvm_.GetAllLvs(vg);
    MutexLock lock(mu_);
    if (lvs.ok()) {
      for (const lvm::Lv& lv : *lvs) round->sizes[lv.name] = lv.size_bytes;
    } else {
      round->status = lvs.status();
    }
    round->done = true;
    vgs_[vg].running.reset();
    round_done_.SignalAll();
  } else {
    MutexLock lock(mu_);
    while (!round->done) round_done_.Wait(mu_);
  }
  // `round` is immutable once done.
  RETURN_IF_ERROR(round->status);
  auto it = round->sizes.find(request.volume_uuid);
  if (it == round->sizes.end()) {
    return Status(Code::kNotFound,
                  "LV " + vg + "/" + request.volume_uuid + " not found",
                  lvm::lvm_code::kLogicalVolumeDoesNotExist);
  }
  RETURN_IF_ERROR(activator_.Refresh(vg, request.volume_uuid,
                                     block::Activator::CacheState::kFresh));
  return it->second;
}

BlockRefresherStats BlockRefresher::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace sanpool::spm
