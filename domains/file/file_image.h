// FileImages: whole-image operations of one file domain.
//
//  * Delete: `images/<img>` is renamed to `images/_remove_me_<img>` (one
//    atomic step: from then on the image is gone for every reader), the
//    images dir is synced, then the renamed tree is purged. A crash after
//    the rename leaves a `_remove_me_` dir that RecoverDomain() purges.
//  * Prepare: builds the chain from the requested volume down to its base
//    (following PUUID inside the image dir, where template volumes are hard
//    links), checks it (every volume present, LEGAL unless allowed, no
//    cycle), then makes `<run_dir>/<sd>/<img>/` with one symlink per chain
//    volume pointing at the volume's data file, and returns the symlink of
//    the requested volume: a path whose relative backing files resolve.
//  * Teardown: removes that run directory (idempotent).
//
// Every id is validated before it becomes part of a path.
// Blocking: file I/O. Thread-safety: as FileVolumes.
#ifndef SANPOOL_DOMAINS_FILE_FILE_IMAGE_H_
#define SANPOOL_DOMAINS_FILE_FILE_IMAGE_H_

#include <string>
#include <vector>

#include "base/status.h"
#include "domains/file/file_domain.h"
#include "domains/file/image_locks.h"
#include "domains/volume_chain.h"

namespace sanpool::file_domain {

// Whether Prepare accepts ILLEGAL volumes (shared with block domains).
using ::sanpool::IllegalVolumes;

struct PreparedVolume {
  std::string vol_uuid;
  std::string path;        // symlink in the run dir
  std::string target;      // the data file in the domain
  std::string lease_path;  // `<vol>.lease`, offset 0
};

struct PreparedImage {
  std::string path;  // the requested volume's symlink
  std::vector<PreparedVolume> chain;  // requested volume first, base last
};

class FileImages {
 public:
  // `run_dir` is the per-host run directory (e.g. /run/sanpool/storage);
  // `domain` and `locks` must outlive this object. Delete locks the image
  // exclusively, Prepare/Teardown shared.
  FileImages(FileDomain& domain, ImageLocks& locks, std::string run_dir);

  // kNotFound 268 if the image does not exist; 256 if the purge fails after
  // the rename (RecoverDomain finishes it later).
  Status Delete(std::string_view img);

  // kNotFound 201 for a missing volume; 262 for a broken chain; 227 for an
  // ILLEGAL volume unless allowed.
  Result<PreparedImage> Prepare(std::string_view img, std::string_view vol,
                                IllegalVolumes illegal);
  Status Teardown(std::string_view img);

  // `<run_dir>/<sd>/<img>`.
  Result<std::string> RunImageDir(std::string_view img) const;

 private:
  FileDomain& domain_;
  ImageLocks& locks_;
  std::string run_dir_;
};

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_FILE_IMAGE_H_
