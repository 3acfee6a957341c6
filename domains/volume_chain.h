// Image/volume model rules shared by file and block domains ("one model, two
// backends"): walking a volume chain for prepare, checking a snapshot's
// parent, the delete preconditions, and which role each volume of an image
// should have. The backends supply the metadata (file: `<vol>.meta`; block:
// the volume's slot in the `metadata` LV); the rules live here once.
//
//   auto lookup = [&](const std::string& vol) { return ReadMeta(img, vol); };
//   ASSIGN_OR_RETURN(std::vector<ChainVolume> chain,
//                    WalkChain(img, vol, lookup, IllegalVolumes::kRefuse));
//
// Thread-safety: pure functions (the lookups run on the caller's thread).
#ifndef SANPOOL_DOMAINS_VOLUME_CHAIN_H_
#define SANPOOL_DOMAINS_VOLUME_CHAIN_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domains/formats/volume_metadata.h"

namespace sanpool {

// Whether Prepare accepts ILLEGAL volumes (oVirt's allowIllegal).
enum class IllegalVolumes { kRefuse, kAllow };

// Reads one volume's metadata in the image being walked. A missing volume
// must be kNotFound.
using VolumeMetadataLookup =
    std::function<Result<formats::VolumeMetadata>(const std::string& vol)>;

struct ChainVolume {
  std::string vol_uuid;
  formats::VolumeMetadata md;
};

// True for "" and the blank uuid.
bool IsBlankUuid(std::string_view uuid);

// The chain from `vol` down to its base (requested volume first), following
// PUUID. Errors: the lookup's error for `vol` itself (kNotFound 201 when it
// does not exist); kDataLoss 262 for a missing parent or a cycle;
// kFailedPrecondition 227 for an ILLEGAL volume unless allowed.
Result<std::vector<ChainVolume>> WalkChain(std::string_view img,
                                           std::string_view vol,
                                           const VolumeMetadataLookup& lookup,
                                           IllegalVolumes illegal);

// A snapshot's parent, as found by the backend.
struct SnapshotParent {
  const formats::VolumeMetadata* md = nullptr;  // REQUIRES: not null
  std::string_view parent_img;
  std::string_view parent_vol;
  std::string_view target_img;
  // Asked only for a template parent in another image: whether the target
  // image already holds volumes.
  std::function<Result<bool>()> target_has_volumes;
};

// The parent rules of Volume.create (oVirt's Volume._create checks):
// the parent must be LEGAL (226); in another image it must be a template
// (SHARED, 214) and the target image empty (212); in the same image it must
// be a LEAF (204). Returns whether it is a template in another image.
Result<bool> CheckSnapshotParent(const SnapshotParent& parent);

// Delete preconditions (oVirt's Volume.delete): a template still shared
// with other images is refused (223); a volume with children in its image is
// refused (204, detail "children").
struct DeleteCheck {
  std::string_view vol;
  const formats::VolumeMetadata* md = nullptr;  // REQUIRES: not null
  bool shared_elsewhere = false;  // a template used by other images
  std::vector<std::string> children;
};
Status CheckVolumeDeletable(const DeleteCheck& check);

// The role every volume of one image should have: INTERNAL when another
// volume of the image names it as parent, else LEAF; templates (SHARED) keep
// their role. Used by recovery and after a delete.
std::map<std::string, formats::VolumeRole> ExpectedRoles(
    const std::map<std::string, formats::VolumeMetadata>& volumes);

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_VOLUME_CHAIN_H_
