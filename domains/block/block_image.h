// BlockImages: whole-image operations of one block domain, mirroring
// file_domain::FileImages.
//
//  * Prepare: walks the chain from the requested volume to its base
//    (volume_chain.h WalkChain over the volumes' slots), takes a reference
//    on the image (image_activations.h: a writer maps the requested volume
//    exclusively, a reader shared; backing volumes always shared), makes
//    `<run_dir>/<sd>/<img>/` with one symlink per chain volume to its
//    mapped device (qcow2 backing names are bare uuids, so they resolve in
//    that directory), and returns the requested volume's link and its
//    sanlock lease (the domain's `leases` LV, offset (100 + slot) x
//    alignment). Any number of readers may hold an image at once, next to
//    at most one writer; preparing again as the writer returns the same
//    result without a new reference; another top volume of a held image is
//    refused (kFailedPrecondition).
//  * Teardown: drops one reference (the writer's, or a reader's for
//    kReadOnly: ImageActivations::Release); the last one unmaps and removes
//    the run directory. After an agent restart (no record of the prepare)
//    the mappings of the volumes linked in the run directory are removed
//    when nothing holds them open. Idempotent.
//  * Delete: every volume of the image is retagged IU__remove_me_[ZERO_]
//    (from then on the image is gone for readers), then removed (or queued
//    for zeroing) leaf first. A crash leaves marked LVs that
//    BlockVolumes::Recover finishes.
//
// Blocking: lvm, dm, direct I/O. Thread-safety: thread-safe; the image lock
// (exclusive for Prepare/Teardown/Delete) serializes operations on one
// image.
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_IMAGE_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_IMAGE_H_

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/block_domain.h"
#include "domains/block/block_volume.h"
#include "domains/block/image_activations.h"
#include "domains/volume_chain.h"

namespace sanpool::block {

struct PreparedVolume {
  std::string vol_uuid;
  std::string path;    // symlink in the run dir
  std::string target;  // the mapped device
};

struct PreparedImage {
  std::string path;  // the requested volume's symlink
  std::vector<PreparedVolume> chain;  // requested volume first, base last
  VolumeLease lease;                  // of the requested volume
};

class BlockImages {
 public:
  // All references must outlive this object; `volumes` is the same
  // domain's. `run_dir` as for FileImages (e.g. /run/sanpool/storage).
  BlockImages(BlockDomain& domain, BlockVolumes& volumes, ImageLocks& locks,
              std::string run_dir);

  // kNotFound 201 for a missing volume; 262 for a broken chain; 227 for an
  // ILLEGAL volume unless allowed; dm errors when mapping fails (the
  // volumes mapped by this call are unmapped again).
  Result<PreparedImage> Prepare(std::string_view img, std::string_view vol,
                                IllegalVolumes illegal,
                                ImageAccess access = ImageAccess::kReadWrite)
      EXCLUDES(mu_);
  Status Teardown(std::string_view img,
                  ImageAccess access = ImageAccess::kReadWrite) EXCLUDES(mu_);
  // kNotFound 268 if the image has no volume; kFailedPrecondition while it
  // is prepared on this host.
  Status Delete(std::string_view img, PostZero zero) EXCLUDES(mu_);

  // `<run_dir>/<sd>/<img>`.
  Result<std::string> RunImageDir(std::string_view img) const;
  // Images prepared on this host (sorted).
  std::vector<std::string> PreparedImages() const EXCLUDES(mu_);
  // Who holds `img` here; nullopt when nobody.
  std::optional<ImageHolders> Holders(std::string_view img) const;

 private:
  BlockDomain& domain_;
  BlockVolumes& volumes_;
  ImageLocks& locks_;
  const std::string run_dir_;
  ImageActivations activations_;
  mutable Mutex mu_;
  std::map<std::string, PreparedImage> prepared_ GUARDED_BY(mu_);
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_IMAGE_H_
