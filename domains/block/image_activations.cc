#include "domains/block/image_activations.h"

#include <utility>

#include "domains/storage_errors.h"

namespace sanpool::block {

ImageActivations::ImageActivations(Activator& activator, std::string vg)
    : activator_(activator), vg_(std::move(vg)) {}

void ImageActivations::Enter(const std::string& img) {
  MutexLock lock(mu_);
  while (busy_.contains(img)) idle_.Wait(mu_);
  busy_.insert(img);
}

void ImageActivations::Leave(const std::string& img) {
  MutexLock lock(mu_);
  busy_.erase(img);
  idle_.SignalAll();
}

Result<std::vector<std::string>> ImageActivations::MapChain(
    const std::vector<std::string>& chain, LockMode top_mode) {
  std::vector<std::string> devices;
  for (size_t i = 0; i < chain.size(); ++i) {
    const LockMode mode = i == 0 ? top_mode : LockMode::kShared;
    Result<std::string> device = activator_.Activate(vg_, chain[i], mode);
    if (!device.ok()) {
      for (size_t j = 0; j < i; ++j) {
        (void)activator_.Deactivate(vg_, chain[j],
                                    j == 0 ? top_mode : LockMode::kShared);
      }
      return device.status();
    }
    devices.push_back(std::move(*device));
  }
  return devices;
}

Status ImageActivations::UnmapChain(const std::vector<std::string>& chain,
                                    LockMode top_mode) {
  Status first = Status::Ok();
  for (size_t i = 0; i < chain.size(); ++i) {
    Status s = activator_.Deactivate(vg_, chain[i],
                                     i == 0 ? top_mode : LockMode::kShared);
    if (first.ok()) first = s;
  }
  return first;
}

Result<std::vector<std::string>> ImageActivations::Acquire(
    const std::string& img, const std::vector<std::string>& chain,
    ImageAccess access) {
  if (chain.empty()) return InvalidParameter("an image chain is not empty");
  Enter(img);
  auto body = [&]() -> Result<std::vector<std::string>> {
    std::optional<ImageHolders> now = Holders(img);
    if (now && now->chain.front() != chain.front()) {
      return Status(Code::kFailedPrecondition,
                    "image " + img + " is prepared for volume " +
                        now->chain.front());
    }
    if (now && now->writer && access == ImageAccess::kReadWrite) {
      std::vector<std::string> devices;
      for (const std::string& vol : now->chain) {
        ASSIGN_OR_RETURN(std::string device, activator_.DevicePath(vg_, vol));
        devices.push_back(std::move(device));
      }
      return devices;
    }
    // A new holder maps the chain as it is now (the same top volume; its
    // backing chain cannot change while the top is in use).
    ASSIGN_OR_RETURN(std::vector<std::string> devices,
                     MapChain(chain, access == ImageAccess::kReadWrite
                                         ? LockMode::kExclusive
                                         : LockMode::kShared));
    MutexLock lock(mu_);
    ImageHolders& holders = held_[img];
    if (holders.chain.empty()) holders.chain = chain;
    if (access == ImageAccess::kReadWrite) {
      holders.writer = true;
    } else {
      ++holders.readers;
    }
    return devices;
  };
  Result<std::vector<std::string>> result = body();
  Leave(img);
  return result;
}

Result<int> ImageActivations::Release(const std::string& img,
                                      ImageAccess access) {
  Enter(img);
  std::optional<ImageHolders> now = Holders(img);
  if (!now) {
    Leave(img);
    return 0;
  }
  // Which reference goes: the asked kind if held, else the other.
  bool writer = access == ImageAccess::kReadWrite ? now->writer
                                                  : now->readers == 0;
  int left = 0;
  {
    MutexLock lock(mu_);
    ImageHolders& holders = held_[img];
    if (writer) {
      holders.writer = false;
    } else {
      --holders.readers;
    }
    left = holders.Count();
    if (left == 0) held_.erase(img);
  }
  Status unmapped = UnmapChain(
      now->chain, writer ? LockMode::kExclusive : LockMode::kShared);
  Leave(img);
  RETURN_IF_ERROR(unmapped);
  return left;
}

std::optional<ImageHolders> ImageActivations::Holders(
    const std::string& img) const {
  MutexLock lock(mu_);
  auto it = held_.find(img);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sanpool::block
