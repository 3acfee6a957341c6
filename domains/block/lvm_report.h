// Parsing of lvm2 JSON reports (`pvs|vgs|lvs --reportformat json --units b
// --nosuffix -o <fields>`) into the typed records of domains/block/lvm.h.
//
// The report shape is `{"report": [{"pv"|"vg"|"seg": [{field: "string"}]}]}`;
// every value is a string, numbers in bytes without suffix. Rows are merged:
// `vgs -o ...,pv_name` gives one row per (VG, PV) and becomes one Vg with
// pv_names; `lvs --segments` gives one row per segment and becomes one Lv
// with segments sorted by start extent.
//
// Only linear segments are mapped: a `seg_pe_ranges` with more than one
// range (striped, mirrored) or a segment type other than linear/striped
// with one stripe is kFailedPrecondition, since the agent cannot build a
// linear dm table for it.
//
// Errors: text that is not such a report, a missing field or a number that
// does not parse is kDataLoss with the storage code given by the caller's
// command (lvm.h). Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_REPORT_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_REPORT_H_

#include <string_view>
#include <vector>

#include "base/status.h"
#include "domains/block/lvm.h"

namespace sanpool::lvm {

// The `-o` field lists the parsers expect.
inline constexpr std::string_view kPvFields =
    "pv_uuid,pv_name,pv_size,vg_name,vg_uuid,pe_start,pv_pe_count,"
    "pv_pe_alloc_count,pv_mda_count,dev_size,pv_mda_used_count,pv_mda_size,"
    "pv_mda_free,pv_tags";
inline constexpr std::string_view kVgFields =
    "vg_uuid,vg_name,vg_attr,vg_size,vg_free,vg_extent_size,vg_extent_count,"
    "vg_free_count,vg_tags,vg_mda_size,vg_mda_free,lv_count,pv_count,pv_name";
// With --segments.
inline constexpr std::string_view kLvFields =
    "lv_uuid,lv_name,vg_name,lv_attr,lv_size,vg_extent_size,lv_tags,segtype,"
    "stripes,seg_start_pe,seg_size_pe,seg_pe_ranges";

Result<std::vector<Pv>> ParsePvsReport(std::string_view json);
Result<std::vector<Vg>> ParseVgsReport(std::string_view json);
Result<std::vector<Lv>> ParseLvsReport(std::string_view json);

// "/dev/loop0:5-12" -> {pv_device "/dev/loop0", pv_start_extent 5} with
// extent_count 8 checked against `extent_count` (seg_size_pe).
Result<Segment> ParsePeRange(std::string_view range, uint64_t start_extent,
                             uint64_t extent_count);

// "a,b,c" -> {"a","b","c"}; "" -> {}.
std::vector<std::string> SplitTags(std::string_view tags);

}  // namespace sanpool::lvm

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_REPORT_H_
