#include "domains/dm/device_mapper.h"

#include <limits>
#include <string>

namespace sanpool::dm {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '_' || c == '.' ||
         c == '-';
}

std::string SegmentLabel(size_t index) {
  return "table segment " + std::to_string(index);
}

}  // namespace

Status ValidateDeviceName(std::string_view name) {
  if (name.empty() || name.size() > 127) {
    return InvalidArgumentError("device name must be 1..127 characters");
  }
  if (name == "." || name == "..") {
    return InvalidArgumentError("device name cannot be '.' or '..'");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return InvalidArgumentError(
          "device name may only contain [A-Za-z0-9+_.-]");
    }
  }
  return Status::Ok();
}

Status ValidateDeviceUuid(std::string_view uuid) {
  if (uuid.size() > 128) {
    return InvalidArgumentError("device uuid longer than 128 characters");
  }
  for (char c : uuid) {
    if (c <= ' ' || c > '~' || c == '/') {
      return InvalidArgumentError(
          "device uuid must be printable ASCII without spaces or '/'");
    }
  }
  return Status::Ok();
}

Status ValidateTable(const Table& table) {
  if (table.empty()) return InvalidArgumentError("table has no segments");
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max() / kSectorSize;
  uint64_t next = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    const LinearSegment& s = table[i];
    if (s.start_sector != next) {
      return InvalidArgumentError(SegmentLabel(i) + " starts at sector " +
                                  std::to_string(s.start_sector) +
                                  ", expected " + std::to_string(next));
    }
    if (s.length_sectors == 0) {
      return InvalidArgumentError(SegmentLabel(i) + " has zero length");
    }
    if (s.length_sectors > kMax - next ||
        s.device_offset_sector > kMax - s.length_sectors) {
      return InvalidArgumentError(SegmentLabel(i) + " overflows");
    }
    if (s.device.empty() || s.device[0] != '/') {
      return InvalidArgumentError(SegmentLabel(i) +
                                  " device must be an absolute path");
    }
    for (char c : s.device) {
      if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
        return InvalidArgumentError(SegmentLabel(i) +
                                    " device path has NUL or whitespace");
      }
    }
    next += s.length_sectors;
  }
  return Status::Ok();
}

uint64_t TableSizeSectors(const Table& table) {
  uint64_t total = 0;
  for (const LinearSegment& s : table) total += s.length_sectors;
  return total;
}

}  // namespace sanpool::dm
