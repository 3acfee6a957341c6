#include "domains/dm/dm_names.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>

namespace sanpool::dm {
namespace {

std::string DoubleDashes(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (char c : part) {
    out += c;
    if (c == '-') out += '-';
  }
  return out;
}

Result<std::string> StripLvmUuid(std::string_view uuid, std::string_view what) {
  std::string out;
  for (char c : uuid) {
    if (c == '-') continue;
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum) {
      return InvalidArgumentError(std::string(what) +
                                  ": LVM uuid has a character outside "
                                  "[A-Za-z0-9-]");
    }
    out += c;
  }
  if (out.size() != 32) {
    return InvalidArgumentError(std::string(what) +
                                ": LVM uuid must have 32 characters without "
                                "dashes, got " +
                                std::to_string(out.size()));
  }
  return out;
}

bool ParseU64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

Result<std::string> LvDeviceName(std::string_view vg, std::string_view lv) {
  if (vg.empty() || lv.empty()) {
    return InvalidArgumentError("vg and lv names must not be empty");
  }
  std::string name = DoubleDashes(vg) + "-" + DoubleDashes(lv);
  RETURN_IF_ERROR(ValidateDeviceName(name));
  return name;
}

Result<VgLv> SplitLvDeviceName(std::string_view name) {
  // The separator is the first '-' not followed by another '-' (doubled
  // dashes are consumed in pairs).
  VgLv out;
  size_t i = 0;
  for (; i < name.size(); ++i) {
    if (name[i] != '-') {
      out.vg += name[i];
      continue;
    }
    if (i + 1 < name.size() && name[i + 1] == '-') {
      out.vg += '-';
      ++i;
      continue;
    }
    break;
  }
  if (i >= name.size() || out.vg.empty()) {
    return InvalidArgumentError("not an LVM device name: no vg-lv separator");
  }
  for (++i; i < name.size(); ++i) {
    if (name[i] != '-') {
      out.lv += name[i];
    } else if (i + 1 < name.size() && name[i + 1] == '-') {
      out.lv += '-';
      ++i;
    } else {
      return InvalidArgumentError("not an LVM device name: single '-' in lv");
    }
  }
  if (out.lv.empty()) {
    return InvalidArgumentError("not an LVM device name: empty lv");
  }
  return out;
}

Result<std::string> LvDeviceUuid(std::string_view vg_uuid,
                                 std::string_view lv_uuid) {
  ASSIGN_OR_RETURN(std::string vg, StripLvmUuid(vg_uuid, "vg uuid"));
  ASSIGN_OR_RETURN(std::string lv, StripLvmUuid(lv_uuid, "lv uuid"));
  return "LVM-" + vg + lv;
}

Result<Table> BuildLinearTable(std::vector<LvExtentSegment> segments,
                               uint64_t extent_size_sectors) {
  if (extent_size_sectors == 0) {
    return InvalidArgumentError("extent size must not be zero");
  }
  if (segments.empty()) return InvalidArgumentError("LV has no segments");
  std::sort(segments.begin(), segments.end(),
            [](const LvExtentSegment& a, const LvExtentSegment& b) {
              return a.start_extent < b.start_extent;
            });
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max() / kSectorSize;
  const uint64_t max_extents = kMax / extent_size_sectors;
  Table table;
  uint64_t next_extent = 0;
  for (const LvExtentSegment& s : segments) {
    if (s.start_extent != next_extent) {
      return InvalidArgumentError(
          "LV segments do not cover the LV contiguously at extent " +
          std::to_string(next_extent));
    }
    if (s.extent_count == 0) {
      return InvalidArgumentError("LV segment with zero extents");
    }
    if (s.extent_count > max_extents - s.start_extent ||
        s.pv_start_extent > max_extents - s.extent_count ||
        s.pe_start_sectors >
            kMax - (s.pv_start_extent + s.extent_count) * extent_size_sectors) {
      return InvalidArgumentError("LV segment overflows");
    }
    table.push_back(LinearSegment{
        .start_sector = s.start_extent * extent_size_sectors,
        .length_sectors = s.extent_count * extent_size_sectors,
        .device = s.pv_device,
        .device_offset_sector =
            s.pe_start_sectors + s.pv_start_extent * extent_size_sectors,
    });
    next_extent += s.extent_count;
  }
  RETURN_IF_ERROR(ValidateTable(table));
  return table;
}

std::string LinearParams(const LinearSegment& segment) {
  return segment.device + " " + std::to_string(segment.device_offset_sector);
}

std::string RenderTable(const Table& table) {
  std::string out;
  for (const LinearSegment& s : table) {
    out += std::to_string(s.start_sector) + " " +
           std::to_string(s.length_sectors) + " linear " + LinearParams(s) +
           "\n";
  }
  return out;
}

Result<Table> ParseTable(std::string_view text) {
  Table table;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view()
                                         : text.substr(eol + 1);
    ++line_no;
    std::vector<std::string_view> words = SplitWords(line);
    if (words.empty()) continue;
    const std::string where = "table line " + std::to_string(line_no);
    if (words.size() != 5) {
      return InvalidArgumentError(where + ": expected 5 fields");
    }
    if (words[2] != "linear") {
      return InvalidArgumentError(where + ": only linear targets supported");
    }
    LinearSegment s;
    if (!ParseU64(words[0], &s.start_sector) ||
        !ParseU64(words[1], &s.length_sectors) ||
        !ParseU64(words[4], &s.device_offset_sector)) {
      return InvalidArgumentError(where + ": bad number");
    }
    s.device = std::string(words[3]);
    table.push_back(std::move(s));
  }
  RETURN_IF_ERROR(ValidateTable(table));
  return table;
}

}  // namespace sanpool::dm
