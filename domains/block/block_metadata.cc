#include "domains/block/block_metadata.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "domains/formats/domain_metadata.h"
#include "domains/formats/lvm_tag_codec.h"
#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

using formats::MetadataDict;

Status Invalid(std::string message) {
  return Status(Code::kDataLoss, "block domain metadata: " + message,
                storage_code::kMetaDataValidationError);
}

// Plain decimal, no sign, no leading zero unless "0".
bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (text.empty() || (text.size() > 1 && text.front() == '0')) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool IsBlockType(DomainType type) { return !IsFileDomainType(type); }

Result<std::optional<uint32_t>> TakeBlockSize(MetadataDict* dict,
                                             std::string_view key) {
  auto it = dict->find(std::string(key));
  if (it == dict->end()) return std::optional<uint32_t>();
  uint64_t value = 0;
  if (!ParseDecimal(it->second, &value) || value == 0 || value > 65536) {
    return Invalid(std::string(key) + " is not a block size");
  }
  dict->erase(it);
  return std::optional<uint32_t>(static_cast<uint32_t>(value));
}

}  // namespace

Result<std::vector<std::string>> EncodeDomainMetadataTags(
    const BlockDomainMetadata& md) {
  if (!IsBlockType(md.common.type)) {
    return InvalidParameter("block domain metadata needs type FCP or ISCSI");
  }
  if (md.vg_uuid.empty()) return InvalidParameter("VGUUID is empty");
  if (!md.pvs.contains(0)) return InvalidParameter("a block domain needs PV0");
  ASSIGN_OR_RETURN(MetadataDict dict, ToDict(md.common));
  dict[std::string(kVgUuidKey)] = md.vg_uuid;
  for (const auto& [index, pv] : md.pvs) {
    ASSIGN_OR_RETURN(dict[PvKey(index)], EncodePvMapping(pv));
  }
  if (md.logical_block_size) {
    dict[std::string(kLogicalBlockSizeKey)] =
        std::to_string(*md.logical_block_size);
  }
  if (md.physical_block_size) {
    dict[std::string(kPhysicalBlockSizeKey)] =
        std::to_string(*md.physical_block_size);
  }
  ASSIGN_OR_RETURN(std::vector<std::string> lines,
                   formats::EncodeMetadataLines(dict));
  std::vector<std::string> tags;
  for (const std::string& line : lines) {
    ASSIGN_OR_RETURN(std::string encoded, formats::LvmTagEncode(line));
    std::string tag = std::string(formats::kMetadataTagPrefix) + encoded;
    if (tag.size() > kMaxLvmTagLength) {
      return Status(Code::kInvalidArgument,
                    "metadata line " + line.substr(0, line.find('=')) +
                        " needs a tag of " + std::to_string(tag.size()) +
                        " characters, LVM allows " +
                        std::to_string(kMaxLvmTagLength),
                    storage_code::kMetadataOverflow);
    }
    tags.push_back(std::move(tag));
  }
  return tags;
}

Result<BlockDomainMetadata> DecodeDomainMetadataTags(
    const std::vector<std::string>& vg_tags) {
  std::vector<std::string> lines;
  for (const std::string& tag : vg_tags) {
    if (!tag.starts_with(formats::kMetadataTagPrefix)) continue;
    auto line = formats::LvmTagDecode(
        std::string_view(tag).substr(formats::kMetadataTagPrefix.size()));
    if (!line.ok()) {
      return WithStorageCode(line.status(), storage_code::kMetaDataSealIsBroken);
    }
    lines.push_back(std::move(*line));
  }
  if (lines.empty()) {
    return Status(Code::kNotFound, "VG has no MDT_ metadata tags",
                  storage_code::kStorageDomainMetadataNotFound);
  }
  ASSIGN_OR_RETURN(MetadataDict dict, formats::DecodeMetadataLines(lines));
  // Block-only keys are taken out before the common keys are checked, so the
  // common reader still rejects anything else it does not know.
  BlockDomainMetadata md;
  auto vg_uuid = dict.find(std::string(kVgUuidKey));
  std::optional<std::string> vg_uuid_value;
  if (vg_uuid != dict.end()) {
    vg_uuid_value = vg_uuid->second;
    dict.erase(vg_uuid);
  }
  std::map<uint32_t, std::string> pv_values;
  for (auto it = dict.begin(); it != dict.end();) {
    std::optional<uint32_t> index = PvKeyIndex(it->first);
    if (!index) {
      ++it;
      continue;
    }
    pv_values[*index] = it->second;
    it = dict.erase(it);
  }
  ASSIGN_OR_RETURN(md.logical_block_size,
                   TakeBlockSize(&dict, kLogicalBlockSizeKey));
  ASSIGN_OR_RETURN(md.physical_block_size,
                   TakeBlockSize(&dict, kPhysicalBlockSizeKey));
  ASSIGN_OR_RETURN(md.common, FromDict(dict));
  if (!IsBlockType(md.common.type)) {
    return Invalid("TYPE " + std::string(ToString(md.common.type)) +
                   " is not a block domain type");
  }
  if (!vg_uuid_value) {
    return Status(Code::kDataLoss, "block domain metadata: missing key VGUUID",
                  storage_code::kMetaDataKeyNotFound);
  }
  md.vg_uuid = std::move(*vg_uuid_value);
  if (md.vg_uuid.empty()) return Invalid("VGUUID is empty");
  if (!pv_values.contains(0)) {
    return Status(Code::kDataLoss, "block domain metadata: missing key PV0",
                  storage_code::kMetaDataKeyNotFound);
  }
  // Numbers may have gaps (a device left the VG), see pv_mapping.h.
  for (const auto& [index, value] : pv_values) {
    ASSIGN_OR_RETURN(PvMapping pv, DecodePvMapping(value));
    md.pvs.emplace(index, std::move(pv));
  }
  return md;
}

TagChange MetadataTagChange(const std::vector<std::string>& current_vg_tags,
                            const std::vector<std::string>& new_md_tags) {
  std::set<std::string> current;
  for (const std::string& tag : current_vg_tags) {
    if (tag.starts_with(formats::kMetadataTagPrefix)) current.insert(tag);
  }
  std::set<std::string> wanted(new_md_tags.begin(), new_md_tags.end());
  TagChange change;
  std::set_difference(current.begin(), current.end(), wanted.begin(),
                      wanted.end(), std::back_inserter(change.remove));
  std::set_difference(wanted.begin(), wanted.end(), current.begin(),
                      current.end(), std::back_inserter(change.add));
  return change;
}

Result<std::string> EncodeVolumeSlot(const formats::VolumeMetadata& md) {
  ASSIGN_OR_RETURN(std::string text, formats::EncodeVolumeMetadata(
                                         md, formats::MetadataVersion::kV5));
  text.resize(formats::kVolumeMetadataSize, '\0');
  return text;
}

std::string ClearedVolumeSlot() {
  return std::string(formats::kVolumeMetadataSize, '\0');
}

Result<formats::VolumeMetadata> DecodeVolumeSlot(std::string_view bytes,
                                                 SlotParse mode) {
  auto slot_error = [](std::string message) {
    return Status(Code::kDataLoss, "volume metadata slot: " + message,
                  storage_code::kVolumeMetadataReadError);
  };
  if (bytes.find_first_not_of('\0') == std::string_view::npos) {
    return Status(Code::kDataLoss, "volume metadata slot is cleared",
                  storage_code::kMetadataCleared);
  }
  if (mode == SlotParse::kStrict) {
    if (bytes.size() != formats::kVolumeMetadataSize) {
      return slot_error("is " + std::to_string(bytes.size()) +
                        " bytes, not 512");
    }
    size_t text_end = bytes.find('\0');
    if (text_end == std::string_view::npos) text_end = bytes.size();
    std::string_view text = bytes.substr(0, text_end);
    if (bytes.find_first_not_of('\0', text_end) != std::string_view::npos) {
      return slot_error("bytes after the first NUL are not all NUL");
    }
    if (text != "EOF\n" && !text.ends_with("\nEOF\n")) {
      return slot_error("text does not end with the EOF line");
    }
  }
  return formats::DecodeVolumeMetadata(bytes);
}

}  // namespace sanpool::block
