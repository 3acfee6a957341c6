// ImageLocks: the in-host locks that serialize operations on one image of
// one domain (reference §9): `00_storage.<sd>` shared (the domain is in use)
// plus `01_img_<sd>.<img>` shared for readers (getInfo, prepare) or
// exclusive for changes (create, delete, extend, set*). Taken together, in
// ResourceManager's global order, so they cannot deadlock with each other.
//
// Thread-safety: safe to share; the ResourceManager does the locking.
#ifndef SANPOOL_DOMAINS_FILE_IMAGE_LOCKS_H_
#define SANPOOL_DOMAINS_FILE_IMAGE_LOCKS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/resource_locks.h"
#include "base/status.h"

namespace sanpool::file_domain {

class ImageLocks {
 public:
  // `manager` must outlive this object. `timeout` bounds each wait
  // (oVirt's irs:prepare_image_timeout is 10 minutes).
  ImageLocks(ResourceManager& manager, std::string sd_uuid,
             Duration timeout = std::chrono::minutes(10));

  // Locks the domain (shared) and each image in `images` with its mode.
  // kDeadlineExceeded 851 on timeout; kInvalidArgument for a bad id.
  Result<ResourceManager::LockSet> Lock(
      std::vector<std::pair<std::string, LockMode>> images);

  const std::string& sd_uuid() const { return sd_uuid_; }

 private:
  ResourceManager& manager_;
  std::string sd_uuid_;
  Duration timeout_;
};

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_IMAGE_LOCKS_H_
