// The PV<n> keys of a block domain's metadata (reference §2.3; oVirt's
// blockSD.encodePVInfo / getMetaDataMapping): which devices make up the VG
// and where each one's extents sit in the domain's linear extent space.
//
//   PV<n>=pv:<guid>,uuid:<pv uuid>,pestart:0,pecount:<extents>,mapoffset:<m>
//
// PV0 is the device holding the `metadata` LV (it can never leave the VG).
// A new device gets the next number and mapoffset = mapoffset + pecount of the
// highest-numbered entry. A device that leaves the VG (vgreduce) loses its
// key, so numbers can have gaps (PV0, PV2): readers must accept them. Entries
// of devices still present are kept as written, even after a resize (as oVirt
// does). oVirt numbers the next device len(entries), which can reuse a
// number after a gap and overwrite that entry; sanpool uses highest + 1.
//
// Thread-safety: pure functions and plain values.
#ifndef SANPOOL_DOMAINS_BLOCK_PV_MAPPING_H_
#define SANPOOL_DOMAINS_BLOCK_PV_MAPPING_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool::block {

struct PvMapping {
  std::string guid;       // device name, e.g. the multipath wwid
  std::string pv_uuid;    // LVM's PV uuid
  uint64_t pe_start = 0;  // always 0 in oVirt
  uint64_t pe_count = 0;
  uint64_t map_offset = 0;

  bool operator==(const PvMapping&) const = default;
};

// Keyed by n of "PV<n>".
using PvMappings = std::map<uint32_t, PvMapping>;

// "PV<n>" -> n for the canonical spelling (no sign, no leading zero);
// nullopt for any other key.
std::optional<uint32_t> PvKeyIndex(std::string_view key);
std::string PvKey(uint32_t index);

// The value text. The guid and uuid must be non-empty and free of "," (oVirt
// cannot read those back): kInvalidArgument (1000).
Result<std::string> EncodePvMapping(const PvMapping& pv);
// Fields in any order (oVirt reads a dict), each exactly once, numbers plain
// decimal; the guid may contain ":". kDataLoss (753) otherwise.
Result<PvMapping> DecodePvMapping(std::string_view value);

// A device as LVM reports it.
struct PvExtents {
  std::string guid;
  std::string pv_uuid;
  uint64_t pe_count = 0;
};

// The mapping after the VG changed: entries of `current` whose device is in
// `vg_pvs` are kept, devices not yet mapped are appended in `vg_pvs` order.
// For a new domain `current` is empty and `vg_pvs[0]` must be the metadata
// LV's device.
PvMappings UpdatePvMappings(const PvMappings& current,
                            const std::vector<PvExtents>& vg_pvs);

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_PV_MAPPING_H_
