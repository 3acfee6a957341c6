// The two storage operations the thin-volume extend service needs
// (spm/extend_service.h), as interfaces so tests pass fakes and the agent
// passes adapters over the block domain (spm/block_extend_adapters.h).
//
//   Extender         the SPM's part: grow LVs to an absolute size (lvextend).
//   VolumeRefresher  every host's part: reload its own mapping of the LV
//                    (dm table reload) and report the size it now sees.
//
// Both are idempotent and absolute: a request served twice (a resent
// mailbox message, a new SPM re-serving what the old one already did) does
// no harm, which is what makes mailbox failover safe.
//
// Thread-safety: implementations must accept calls from several threads at
// once. Blocking: both block on lvm / device-mapper.
#ifndef SANPOOL_SPM_EXTENDER_H_
#define SANPOOL_SPM_EXTENDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "mailbox/host_mailbox.h"

namespace sanpool::spm {

// One volume of a batch.
struct VolumeTarget {
  std::string image_uuid;  // "" when the request came through the mailbox
  std::string volume_uuid;
  uint64_t target_bytes = 0;  // absolute
};

class Extender {
 public:
  virtual ~Extender() = default;

  // Grows every listed LV of domain (VG) `domain_uuid` to at least its
  // target and returns, in the same order, the size each LV has afterwards
  // (>= its target) or its error: kResourceExhausted when the VG has no
  // room (oVirt answers size 0), kNotFound for a missing LV, lvm's errors.
  // An LV already big enough is a success without any change. The volumes
  // of one call are distinct. The service never runs two calls for one
  // domain at once beyond the batcher's per-domain limit.
  // REQUIRES: the result has volumes.size() elements.
  virtual std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string& domain_uuid,
      const std::vector<VolumeTarget>& volumes) = 0;

  // The most volumes one call should carry. 1 (the default) for an
  // implementation that runs one lvm command per volume anyway: a batch
  // would only serialise changes whose lvm start-up and device scans can
  // overlap. More for one whose call costs about one lvm run whatever its
  // size.
  virtual size_t MaxBatch() const { return 1; }
};

class VolumeRefresher {
 public:
  virtual ~VolumeRefresher() = default;

  // Who changed the LV: the SPM on another host (the mailbox path: this
  // host's view of the VG may be stale), or this host itself as the SPM
  // (the direct path: its own lvm cache made the change and is current).
  enum class Changed { kElsewhere, kHere };

  // Reloads this host's mapping of the volume from the LV's current
  // segments (a no-op where it is not mapped) and returns the LV's size in
  // bytes as this host now sees it. Errors: lvm / device-mapper ones.
  virtual Result<uint64_t> Refresh(const mailbox::ExtendRequest& request,
                                   Changed changed) = 0;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_EXTENDER_H_
