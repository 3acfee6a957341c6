// ImageCopier: copies a whole image (a chain of volumes) from one file
// domain to another, or to another image of the same domain (oVirt's
// Image.move op=COPY / copyCollapsed, reference §7.2).
//
//   ImageCopier copier(runner, resources);
//   Status st = copier.Copy(
//       {.domain = &src_domain, .volumes = &src_volumes, .img = src_img},
//       {.domain = &dst_domain, .volumes = &dst_volumes, .img = dst_img},
//       {.mode = CopyMode::kCollapse, .collapse = {.vol_uuid = new_vol,
//         .format = VolumeFormat::kRaw, .allocation = Allocation::kSparse}},
//       [](double pct) { ... }, cancel_token);
//
// Two modes:
//  * kPreserveChain: every volume of the source chain (base first) becomes a
//    volume with the same UUID, format, allocation, capacity, disk type and
//    description in the destination image, with the same parent relations
//    (qcow2 backing = the parent's bare UUID, relative). Each volume's own
//    data is copied with `qemu-img convert -n -B <parent> -F <parent fmt>`
//    (qcow2 compat=1.1), so only the clusters the volume itself holds are
//    written and the destination chain reads exactly as the source chain.
//    A template base (VOLTYPE SHARED) is not copied: it must exist in the
//    destination domain (same template image and volume UUIDs), and the
//    lowest copied volume is created on it as FileVolumes does for template
//    children (hard link).
//  * kCollapse: one new volume `collapse.vol_uuid` of the chosen format and
//    allocation, capacity of the source top, holding the whole chain's
//    content (`qemu-img convert` of the top with its backing chain).
//
// Protocol (crash- and failure-safe):
//   1. the source chain is read (from `top_vol`, or the image's only leaf
//      when it is empty) following PUUID; every source volume must be LEGAL;
//      the destination image must not exist or hold no volume;
//   2. destination volumes are created through FileVolumes::Create, base
//      first. The top one is created ILLEGAL; a lower one is created LEGAL
//      (FileVolumes refuses a child of an ILLEGAL parent) and marked ILLEGAL
//      as soon as its child exists. So from the second volume on the chain
//      holds an ILLEGAL volume: Image.prepare refuses it, and a crash leaves
//      volumes that an engine deletes, as in oVirt;
//   3. the data is copied with both image locks held: 00_storage shared on
//      each domain, 01_img_<src sd>.<src img> SHARED and 01_img_<dst sd>.
//      <dst img> EXCLUSIVE, taken together in the global order (one
//      AcquireAll, so two copies in opposite directions cannot deadlock);
//      the source chain is re-read under the lock and must not have changed;
//   4. the destination volumes are marked LEGAL (base first).
//   Any failure or cancellation after step 2 began deletes every volume this
//   call created (top first, through FileVolumes::Delete), and the
//   destination image directory when this call created it, and returns the
//   original error.
//
// Why the destination lock is not held for the whole call: the image locks
// are not reentrant and FileVolumes takes them itself on every call, so the
// copier holds them only around the data copy (step 3); in steps 2 and 4 the
// ILLEGAL marks keep other users away from the half-made volumes.
//
// Progress: `progress` (may be null) receives values in [0, 100], in
// non-decreasing order, while qemu-img runs (parsed from `convert -p`
// output as it streams, ProcessSpec::on_stdout), weighted by each copied
// source volume's apparent size over the sum of all of them; values stay
// below 100 while copying, and 100 is reported once, on success, after the
// volumes are LEGAL. Called on the thread that runs Copy().
//
// Errors (the storage codes are oVirt's):
//   bad ids / options, src == dst image in one domain  kInvalidArgument 1000
//   source volume missing / broken chain       kNotFound 201 / 262 (FileVolumes)
//   a source volume ILLEGAL                    kFailedPrecondition 227
//   (preserve) template base not in dst domain kNotFound 201
//   source changed while the copy waited       kAborted 225
//   destination image has volumes              kAlreadyExists 212
//   qemu-img failed / timed out                kUnknown / kDeadlineExceeded 225
//   cancelled                                  kCancelled
//   lock timeout                               kDeadlineExceeded 851
//
// Blocking: file I/O, qemu-img runs (as long as the copy takes), lock waits.
// Thread-safety: Copy() may run on several threads at once; `runner` and
// `resources` must outlive the copier. SPM gating is the caller's.
#ifndef SANPOOL_DOMAINS_FILE_IMAGE_COPY_H_
#define SANPOOL_DOMAINS_FILE_IMAGE_COPY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "base/status.h"
#include "domains/file/file_domain.h"
#include "domains/file/file_volume.h"
#include "domains/formats/volume_metadata.h"

namespace sanpool::file_domain {

enum class CopyMode { kPreserveChain, kCollapse };

// One side of a copy: a domain, its FileVolumes, and an image in it.
// The pointers are borrowed for the duration of Copy().
struct CopyEndpoint {
  FileDomain* domain = nullptr;
  FileVolumes* volumes = nullptr;
  std::string img;
};

// The destination volume of kCollapse.
struct CollapseTarget {
  std::string vol_uuid;
  formats::VolumeFormat format = formats::VolumeFormat::kCow;
  formats::Allocation allocation = formats::Allocation::kSparse;
  // Empty: the source top's description.
  std::string description;
  // Empty: the source top's disk type.
  std::string disk_type;
};

// How qemu-img opens files: kNone (O_DIRECT, oVirt's choice: no page cache
// pollution, needs a file system with O_DIRECT) or kWriteback.
enum class CopyCacheMode { kNone, kWriteback };

struct CopyOptions {
  CopyMode mode = CopyMode::kPreserveChain;
  // The source volume to copy down from; empty = the image's leaf (the
  // image must then have exactly one).
  std::string top_vol;
  CollapseTarget collapse;  // kCollapse only
  CopyCacheMode cache = CopyCacheMode::kNone;
  std::string qemu_img_binary = "/usr/bin/qemu-img";
  // Bounds each qemu-img convert; zero = unlimited (cancel instead).
  std::chrono::milliseconds convert_timeout{0};
  // Bounds the wait for the image locks (oVirt's prepare_image_timeout).
  Duration lock_timeout = std::chrono::minutes(10);
};

using CopyProgress = std::function<void(double percent)>;

class ImageCopier {
 public:
  // `runner` runs qemu-img; `resources` is the host's ResourceManager (the
  // one the endpoints' ImageLocks use). Both must outlive the copier.
  ImageCopier(ProcessRunner& runner, ResourceManager& resources);

  // Copies `src.img` to `dst.img` as described at the top of the file.
  // REQUIRES: the calling thread holds no 00_storage or 01_img_ lock of
  // either domain (the locks are not reentrant: FileVolumes and the copier
  // take them themselves).
  Status Copy(const CopyEndpoint& src, const CopyEndpoint& dst,
              const CopyOptions& options, const CopyProgress& progress,
              const CancellationToken& cancel);

  // The qemu-img convert argv for one volume (exposed for tests).
  struct ConvertStep {
    std::string source;
    formats::VolumeFormat source_format = formats::VolumeFormat::kRaw;
    std::string target;
    formats::VolumeFormat target_format = formats::VolumeFormat::kRaw;
    std::string backing;  // empty: none (the target gets the whole content)
    formats::VolumeFormat backing_format = formats::VolumeFormat::kRaw;
  };
  static std::vector<std::string> ConvertArgv(const ConvertStep& step,
                                              const CopyOptions& options);

 private:
  ProcessRunner& runner_;
  ResourceManager& resources_;
};

// Parses the last "(NN.NN/100%)" in `qemu-img convert -p` output; -1 when
// `text` holds none.
double ParseQemuImgProgress(std::string_view text);

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_IMAGE_COPY_H_
