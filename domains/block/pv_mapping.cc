#include "domains/block/pv_mapping.h"

#include <charconv>
#include <set>

#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

Status Invalid(std::string message) {
  return Status(Code::kDataLoss, "block domain metadata: " + message,
                storage_code::kMetaDataValidationError);
}

// Plain decimal, no sign, no leading zero unless "0".
template <typename T>
bool ParseDecimal(std::string_view text, T* out) {
  if (text.empty() || (text.size() > 1 && text.front() == '0')) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::optional<uint32_t> PvKeyIndex(std::string_view key) {
  uint32_t index = 0;
  if (!key.starts_with("PV") || !ParseDecimal(key.substr(2), &index)) {
    return std::nullopt;
  }
  return index;
}

std::string PvKey(uint32_t index) { return "PV" + std::to_string(index); }

Result<std::string> EncodePvMapping(const PvMapping& pv) {
  for (const std::string* field : {&pv.guid, &pv.pv_uuid}) {
    if (field->empty() || field->find(',') != std::string::npos) {
      return InvalidParameter("PV guid and uuid must be non-empty, without ','");
    }
  }
  return "pv:" + pv.guid + ",uuid:" + pv.pv_uuid +
         ",pestart:" + std::to_string(pv.pe_start) +
         ",pecount:" + std::to_string(pv.pe_count) +
         ",mapoffset:" + std::to_string(pv.map_offset);
}

Result<PvMapping> DecodePvMapping(std::string_view value) {
  PvMapping pv;
  std::set<std::string_view> seen;
  size_t start = 0;
  while (true) {
    size_t comma = value.find(',', start);
    std::string_view item = value.substr(
        start, comma == std::string_view::npos ? std::string_view::npos
                                               : comma - start);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      return Invalid("PV entry item '" + std::string(item.substr(0, 64)) +
                     "' has no ':'");
    }
    std::string_view name = item.substr(0, colon);
    std::string_view v = item.substr(colon + 1);
    if (!seen.insert(name).second) {
      return Invalid("PV entry repeats '" + std::string(name) + "'");
    }
    bool ok = true;
    if (name == "pv") {
      pv.guid = v;
      ok = !v.empty();
    } else if (name == "uuid") {
      pv.pv_uuid = v;
      ok = !v.empty();
    } else if (name == "pestart") {
      ok = ParseDecimal(v, &pv.pe_start);
    } else if (name == "pecount") {
      ok = ParseDecimal(v, &pv.pe_count);
    } else if (name == "mapoffset") {
      ok = ParseDecimal(v, &pv.map_offset);
    } else {
      return Invalid("PV entry has unknown field '" +
                     std::string(name.substr(0, 32)) + "'");
    }
    if (!ok) return Invalid("PV entry field '" + std::string(name) + "' is bad");
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (seen.size() != 5) {
    return Invalid("PV entry needs pv, uuid, pestart, pecount and mapoffset");
  }
  return pv;
}

PvMappings UpdatePvMappings(const PvMappings& current,
                            const std::vector<PvExtents>& vg_pvs) {
  std::set<std::string_view> present;
  for (const PvExtents& pv : vg_pvs) present.insert(pv.guid);
  PvMappings out;
  std::set<std::string_view> mapped;
  for (const auto& [index, pv] : current) {
    if (!present.contains(pv.guid)) continue;
    out.emplace(index, pv);
    mapped.insert(pv.guid);
  }
  for (const PvExtents& pv : vg_pvs) {
    if (mapped.contains(pv.guid)) continue;
    uint32_t index = 0;
    uint64_t offset = 0;
    if (!out.empty()) {
      const auto& [last_index, last] = *out.rbegin();
      index = last_index + 1;
      offset = last.map_offset + last.pe_count;
    }
    out.emplace(index, PvMapping{pv.guid, pv.pv_uuid, 0, pv.pe_count, offset});
    mapped.insert(pv.guid);
  }
  return out;
}

}  // namespace sanpool::block
