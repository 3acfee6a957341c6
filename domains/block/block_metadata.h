// Metadata of an oVirt V5 block domain, in its two places
// (doc/formats/block-domain.md; reference §2.3, §2.5):
//
// 1. Domain metadata in VG tags. The sealed KEY=VALUE lines of
//    domains/formats/domain_metadata.h (sorted, "_SHA_CKSUM=<sha1>" last),
//    each stored as one VG tag "MDT_" + LvmTagEncode(line), e.g.
//      MDT_CLASS=Data   MDT_DESCRIPTION=my&32&domain
//      MDT_PV0=pv:36001405abc&44&uuid:Xy...&44&pestart:0&44&pecount:77&44&mapoffset:0
//    The keys are those of domains/sd_metadata.h minus REMOTE_PATH, plus:
//      VGUUID=<lvm vg uuid>
//      PV<n>=pv:<device guid>,uuid:<pv uuid>,pestart:0,pecount:<extents>,
//            mapoffset:<extents mapped before>  (domains/block/pv_mapping.h)
//      LOGBLKSIZE, PHYBLKSIZE: only in domains made before V5; a V5 domain
//            created by oVirt has none, a converted one may keep them.
//    Tags are a set: order does not matter and the reader ignores non-MDT_
//    tags (RHAT_storage_domain). Writing = one `vgchange --deltag (old lines
//    not in new) --addtag (new lines not in old)`, see MetadataTagChange.
//
// 2. Volume metadata slot. The 512 bytes written at MetadataSlotOffset(slot)
//    of the `metadata` LV: the V5 text of domains/formats/volume_metadata.h
//    ("KEY=VALUE\n"... "EOF\n") followed by NULs up to 512. A cleared slot
//    (rollback of a failed create) is 512 NULs. The rest of the 8 KiB slot is
//    never written.
//
// Decoding is strict: a broken seal is 752, unknown keys / bad values 753, a
// missing key 751, VERSION other than 5 is 394 (kFailedPrecondition), all
// other damage kDataLoss. Slots: a cleared slot is kDataLoss with 757; the
// strict slot parse also requires NUL padding after "EOF\n" and exactly 512
// bytes, the tolerant one reads like oVirt (stops at EOF, ignores the rest).
//
// Thread-safety: pure functions and plain values.
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_METADATA_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_METADATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domains/block/block_tags.h"
#include "domains/block/pv_mapping.h"
#include "domains/formats/volume_metadata.h"
#include "domains/sd_metadata.h"

namespace sanpool::block {

inline constexpr std::string_view kVgUuidKey = "VGUUID";
inline constexpr std::string_view kLogicalBlockSizeKey = "LOGBLKSIZE";
inline constexpr std::string_view kPhysicalBlockSizeKey = "PHYBLKSIZE";
// lvm2 refuses longer tags (lvm(8): "up to 1024 characters").
inline constexpr size_t kMaxLvmTagLength = 1024;

struct BlockDomainMetadata {
  DomainMetadata common;  // common.type is kFcp or kIscsi
  std::string vg_uuid;
  PvMappings pvs;  // PV<n> entries, see pv_mapping.h; PV0 required
  std::optional<uint32_t> logical_block_size;   // legacy LOGBLKSIZE
  std::optional<uint32_t> physical_block_size;  // legacy PHYBLKSIZE

  bool operator==(const BlockDomainMetadata&) const = default;
};

// Typed metadata -> the MDT_ VG tags (sealed lines in sorted order).
// kInvalidArgument when ValidateDomainMetadata fails, the type is not a block
// type, there is no PV0, or a tag would exceed kMaxLvmTagLength (756).
Result<std::vector<std::string>> EncodeDomainMetadataTags(
    const BlockDomainMetadata& md);

// All tags of the VG (non-MDT_ ones ignored) -> typed metadata. No MDT_ tag
// at all is kNotFound (364): the VG is not (yet) a domain.
Result<BlockDomainMetadata> DecodeDomainMetadataTags(
    const std::vector<std::string>& vg_tags);

// The vgchange that turns the VG's current tags into `new_md_tags` (the
// output of EncodeDomainMetadataTags). Only MDT_ tags are touched. Both lists
// are sorted; an unchanged domain gives an empty change.
TagChange MetadataTagChange(const std::vector<std::string>& current_vg_tags,
                            const std::vector<std::string>& new_md_tags);

// Volume metadata slots.
enum class SlotParse { kStrict, kTolerant };

// The 512 bytes for a slot: EncodeVolumeMetadata(md, V5) padded with NULs
// (errors as EncodeVolumeMetadata; 756 when the text exceeds 512 bytes).
Result<std::string> EncodeVolumeSlot(const formats::VolumeMetadata& md);

// 512 NULs: what clearing a slot writes.
std::string ClearedVolumeSlot();

// Parses the 512 bytes read at a slot offset. Cleared (all NUL) is kDataLoss
// with 757 in both modes; kStrict also refuses a size other than 512 and any
// non-NUL byte after the "EOF\n" line (207). Otherwise as
// DecodeVolumeMetadata.
Result<formats::VolumeMetadata> DecodeVolumeSlot(
    std::string_view bytes, SlotParse mode = SlotParse::kStrict);

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_METADATA_H_
