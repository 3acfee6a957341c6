#include "domains/block/lvm_report.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <string>

namespace sanpool::lvm {
namespace {

namespace json = boost::json;

Status Malformed(std::string_view what) {
  return DataLossError("lvm report: " + std::string(what));
}

// The rows of the report's `section` ("pv", "vg", "seg"); lvm prints one
// report object per command, rows of all objects are concatenated.
Result<std::vector<json::object>> Rows(std::string_view text,
                                       std::string_view section) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Malformed("not JSON: " + ec.message());
  const json::object* top = v.if_object();
  const json::value* report = top ? top->if_contains("report") : nullptr;
  if (report == nullptr || !report->is_array()) {
    return Malformed("no \"report\" array");
  }
  std::vector<json::object> rows;
  for (const json::value& part : report->as_array()) {
    const json::object* obj = part.if_object();
    if (obj == nullptr) return Malformed("report entry is not an object");
    const json::value* list =
        obj->if_contains(json::string_view(section.data(), section.size()));
    if (list == nullptr) continue;  // Other sections (e.g. "log").
    if (!list->is_array()) {
      return Malformed("\"" + std::string(section) + "\" is not an array");
    }
    for (const json::value& row : list->as_array()) {
      if (!row.is_object()) return Malformed("row is not an object");
      rows.push_back(row.as_object());
    }
  }
  return rows;
}

Result<std::string> Str(const json::object& row, std::string_view key) {
  const json::value* v = row.if_contains(json::string_view(key.data(),
                                                           key.size()));
  if (v == nullptr) return Malformed("missing field " + std::string(key));
  if (!v->is_string()) {
    return Malformed("field " + std::string(key) + " is not a string");
  }
  return std::string(v->as_string());
}

Result<uint64_t> ParseU64(std::string_view text, std::string_view key) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Malformed("field " + std::string(key) + " is not a number: '" +
                     std::string(text) + "'");
  }
  return n;
}

Result<uint64_t> Num(const json::object& row, std::string_view key) {
  ASSIGN_OR_RETURN(std::string s, Str(row, key));
  return ParseU64(s, key);
}

// Number fields lvm leaves empty for PVs outside any VG (e.g. pe_start is
// still set, but the vg fields are ""): "" reads as 0.
Result<uint64_t> NumOrZero(const json::object& row, std::string_view key) {
  ASSIGN_OR_RETURN(std::string s, Str(row, key));
  if (s.empty()) return uint64_t{0};
  return ParseU64(s, key);
}

}  // namespace

std::vector<std::string> SplitTags(std::string_view tags) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < tags.size()) {
    size_t comma = tags.find(',', pos);
    if (comma == std::string_view::npos) comma = tags.size();
    if (comma > pos) out.emplace_back(tags.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

Result<Segment> ParsePeRange(std::string_view range, uint64_t start_extent,
                             uint64_t extent_count) {
  // "<device>:<first>-<last>"; a device path may itself contain ':', so the
  // last one separates.
  if (range.find(' ') != std::string_view::npos) {
    return FailedPreconditionError("lvm segment has several PV ranges (" +
                                   std::string(range) +
                                   "): not a linear segment");
  }
  size_t colon = range.rfind(':');
  size_t dash = range.rfind('-');
  if (colon == std::string_view::npos || colon == 0 ||
      dash == std::string_view::npos || dash < colon) {
    return Malformed("bad seg_pe_ranges '" + std::string(range) + "'");
  }
  ASSIGN_OR_RETURN(uint64_t first,
                   ParseU64(range.substr(colon + 1, dash - colon - 1),
                            "seg_pe_ranges"));
  ASSIGN_OR_RETURN(uint64_t last,
                   ParseU64(range.substr(dash + 1), "seg_pe_ranges"));
  if (last < first || last - first + 1 != extent_count) {
    return Malformed("seg_pe_ranges '" + std::string(range) +
                     "' does not hold " + std::to_string(extent_count) +
                     " extents");
  }
  return Segment{.start_extent = start_extent,
                 .extent_count = extent_count,
                 .pv_device = std::string(range.substr(0, colon)),
                 .pv_start_extent = first};
}

Result<std::vector<Pv>> ParsePvsReport(std::string_view text) {
  ASSIGN_OR_RETURN(std::vector<json::object> rows, Rows(text, "pv"));
  std::vector<Pv> out;
  out.reserve(rows.size());
  for (const json::object& row : rows) {
    Pv pv;
    ASSIGN_OR_RETURN(pv.name, Str(row, "pv_name"));
    ASSIGN_OR_RETURN(pv.uuid, Str(row, "pv_uuid"));
    ASSIGN_OR_RETURN(pv.vg_name, Str(row, "vg_name"));
    ASSIGN_OR_RETURN(pv.vg_uuid, Str(row, "vg_uuid"));
    ASSIGN_OR_RETURN(pv.size_bytes, Num(row, "pv_size"));
    ASSIGN_OR_RETURN(pv.dev_size_bytes, Num(row, "dev_size"));
    ASSIGN_OR_RETURN(pv.pe_start_bytes, Num(row, "pe_start"));
    ASSIGN_OR_RETURN(pv.pe_count, NumOrZero(row, "pv_pe_count"));
    ASSIGN_OR_RETURN(pv.pe_alloc_count, NumOrZero(row, "pv_pe_alloc_count"));
    ASSIGN_OR_RETURN(pv.mda_count, NumOrZero(row, "pv_mda_count"));
    ASSIGN_OR_RETURN(pv.mda_used_count, NumOrZero(row, "pv_mda_used_count"));
    ASSIGN_OR_RETURN(pv.mda_size_bytes, NumOrZero(row, "pv_mda_size"));
    ASSIGN_OR_RETURN(pv.mda_free_bytes, NumOrZero(row, "pv_mda_free"));
    ASSIGN_OR_RETURN(std::string tags, Str(row, "pv_tags"));
    pv.tags = SplitTags(tags);
    out.push_back(std::move(pv));
  }
  return out;
}

Result<std::vector<Vg>> ParseVgsReport(std::string_view text) {
  ASSIGN_OR_RETURN(std::vector<json::object> rows, Rows(text, "vg"));
  std::vector<Vg> out;
  std::map<std::string, size_t> index;  // uuid -> position in out.
  for (const json::object& row : rows) {
    ASSIGN_OR_RETURN(std::string uuid, Str(row, "vg_uuid"));
    ASSIGN_OR_RETURN(std::string pv_name, Str(row, "pv_name"));
    auto it = index.find(uuid);
    if (it != index.end()) {
      if (!pv_name.empty()) out[it->second].pv_names.push_back(pv_name);
      continue;
    }
    Vg vg;
    vg.uuid = uuid;
    ASSIGN_OR_RETURN(vg.name, Str(row, "vg_name"));
    ASSIGN_OR_RETURN(vg.attr, Str(row, "vg_attr"));
    ASSIGN_OR_RETURN(vg.size_bytes, Num(row, "vg_size"));
    ASSIGN_OR_RETURN(vg.free_bytes, Num(row, "vg_free"));
    ASSIGN_OR_RETURN(vg.extent_size_bytes, Num(row, "vg_extent_size"));
    ASSIGN_OR_RETURN(vg.extent_count, Num(row, "vg_extent_count"));
    ASSIGN_OR_RETURN(vg.free_count, Num(row, "vg_free_count"));
    ASSIGN_OR_RETURN(vg.mda_size_bytes, Num(row, "vg_mda_size"));
    ASSIGN_OR_RETURN(vg.mda_free_bytes, Num(row, "vg_mda_free"));
    ASSIGN_OR_RETURN(vg.lv_count, Num(row, "lv_count"));
    ASSIGN_OR_RETURN(vg.pv_count, Num(row, "pv_count"));
    ASSIGN_OR_RETURN(std::string tags, Str(row, "vg_tags"));
    vg.tags = SplitTags(tags);
    if (!pv_name.empty()) vg.pv_names.push_back(pv_name);
    index.emplace(uuid, out.size());
    out.push_back(std::move(vg));
  }
  return out;
}

Result<std::vector<Lv>> ParseLvsReport(std::string_view text) {
  ASSIGN_OR_RETURN(std::vector<json::object> rows, Rows(text, "seg"));
  std::vector<Lv> out;
  std::map<std::string, size_t> index;  // uuid -> position in out.
  for (const json::object& row : rows) {
    ASSIGN_OR_RETURN(std::string uuid, Str(row, "lv_uuid"));
    auto it = index.find(uuid);
    if (it == index.end()) {
      Lv lv;
      lv.uuid = uuid;
      ASSIGN_OR_RETURN(lv.name, Str(row, "lv_name"));
      ASSIGN_OR_RETURN(lv.vg_name, Str(row, "vg_name"));
      ASSIGN_OR_RETURN(lv.attr, Str(row, "lv_attr"));
      ASSIGN_OR_RETURN(lv.size_bytes, Num(row, "lv_size"));
      ASSIGN_OR_RETURN(lv.extent_size_bytes, Num(row, "vg_extent_size"));
      ASSIGN_OR_RETURN(std::string tags, Str(row, "lv_tags"));
      lv.tags = SplitTags(tags);
      it = index.emplace(uuid, out.size()).first;
      out.push_back(std::move(lv));
    }
    Lv& lv = out[it->second];
    ASSIGN_OR_RETURN(std::string segtype, Str(row, "segtype"));
    ASSIGN_OR_RETURN(uint64_t stripes, NumOrZero(row, "stripes"));
    if (segtype != "linear" && !(segtype == "striped" && stripes == 1)) {
      return FailedPreconditionError("LV " + lv.vg_name + "/" + lv.name +
                                     " has a " + segtype +
                                     " segment: not linear");
    }
    ASSIGN_OR_RETURN(uint64_t start, Num(row, "seg_start_pe"));
    ASSIGN_OR_RETURN(uint64_t count, Num(row, "seg_size_pe"));
    ASSIGN_OR_RETURN(std::string range, Str(row, "seg_pe_ranges"));
    ASSIGN_OR_RETURN(Segment seg, ParsePeRange(range, start, count));
    lv.segments.push_back(std::move(seg));
  }
  for (Lv& lv : out) {
    std::sort(lv.segments.begin(), lv.segments.end(),
              [](const Segment& a, const Segment& b) {
                return a.start_extent < b.start_extent;
              });
  }
  return out;
}

}  // namespace sanpool::lvm
