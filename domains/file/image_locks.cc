#include "domains/file/image_locks.h"

#include "base/uuid.h"

namespace sanpool::file_domain {

ImageLocks::ImageLocks(ResourceManager& manager, std::string sd_uuid,
                       Duration timeout)
    : manager_(manager), sd_uuid_(std::move(sd_uuid)), timeout_(timeout) {}

Result<ResourceManager::LockSet> ImageLocks::Lock(
    std::vector<std::pair<std::string, LockMode>> images) {
  std::vector<LockRequest> requests;
  requests.push_back(
      {std::string(kStorageLockNamespace), sd_uuid_, LockMode::kShared});
  for (auto& [img, mode] : images) {
    RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
    requests.push_back({ImageLockNamespace(sd_uuid_), std::move(img), mode});
  }
  return manager_.AcquireAll(std::move(requests), timeout_);
}

}  // namespace sanpool::file_domain
