// LVM-compatible device-mapper names, uuids and linear tables.
//
// The agent activates LVs itself (DESIGN.md "Device-mapper") but names them
// the way LVM does, so `lvs`, `dmsetup` and anything else on the host see
// ordinary active LVs:
//
//   name  "<vg>-<lv>" with every '-' inside vg and lv doubled:
//         vg "a-b", lv "c" -> "a--b-c"
//   uuid  "LVM-" + vg uuid + lv uuid, both without their dashes (LVM uuids are
//         32 characters of [A-Za-z0-9], shown as 6-4-4-4-4-4-6 groups)
//   table one "linear" line per LV segment: sector = extent * extent size,
//         PV offset = pe_start + pv extent * extent size.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_DM_DM_NAMES_H_
#define SANPOOL_DOMAINS_DM_DM_NAMES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domains/dm/device_mapper.h"

namespace sanpool::dm {

// "<vg>-<lv>" with '-' doubled in both parts. kInvalidArgument when vg or lv
// is empty or the result is not a valid device name (ValidateDeviceName).
Result<std::string> LvDeviceName(std::string_view vg, std::string_view lv);

// The inverse: splits at the single '-' and undoubles (LVM names never start
// with '-', which keeps this unambiguous). kInvalidArgument when
// `name` is not of that form.
struct VgLv {
  std::string vg;
  std::string lv;
};
Result<VgLv> SplitLvDeviceName(std::string_view name);

// "LVM-<vg uuid><lv uuid>" with dashes removed. kInvalidArgument unless each
// uuid is 32 characters of [A-Za-z0-9] once its dashes are removed.
Result<std::string> LvDeviceUuid(std::string_view vg_uuid,
                                 std::string_view lv_uuid);

// One LV segment as LVM reports it (lvs -o seg_start_pe,seg_size_pe,devices
// plus the PV's pe_start), in extents.
struct LvExtentSegment {
  uint64_t start_extent = 0;   // First logical extent of the LV it covers.
  uint64_t extent_count = 0;
  std::string pv_device;       // Absolute path of the PV's block device.
  uint64_t pv_start_extent = 0;
  uint64_t pe_start_sectors = 0;  // Where the PV's extent 0 begins.
};

// The linear table of an LV. Segments may come in any order; sorted by
// start_extent they must cover extents [0, n) without gap or overlap.
// kInvalidArgument otherwise, or when extent_size_sectors is 0 or the
// arithmetic overflows.
Result<Table> BuildLinearTable(std::vector<LvExtentSegment> segments,
                               uint64_t extent_size_sectors);

// "<device> <offset>": the params of one linear target (libdevmapper's
// dm_task_add_target params argument).
std::string LinearParams(const LinearSegment& segment);

// `dmsetup table` text: one "<start> <length> linear <device> <offset>\n" line
// per segment.
std::string RenderTable(const Table& table);

// Parses RenderTable()'s format (blank lines ignored). kInvalidArgument on
// anything else: other target types, missing or non-numeric fields, or a
// table that fails ValidateTable().
Result<Table> ParseTable(std::string_view text);

}  // namespace sanpool::dm

#endif  // SANPOOL_DOMAINS_DM_DM_NAMES_H_
