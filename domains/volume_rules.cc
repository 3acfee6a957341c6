#include "domains/volume_rules.h"

#include <charconv>
#include <string>

#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using formats::Allocation;
using formats::VolumeFormat;

Status SizeError(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message),
                storage_code::kCreateVolumeSizeError);
}

}  // namespace

Result<int64_t> ParseSizeString(std::string_view text, std::string_view what) {
  std::string name(what);
  bool negative = !text.empty() && text.front() == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty() || digits.size() > 19 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return InvalidParameter(name + ": not a decimal number of bytes");
  }
  int64_t value = 0;
  auto [ptr, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return InvalidParameter(name + ": out of range");
  }
  return negative ? -value : value;
}

Result<uint64_t> CheckCapacity(int64_t capacity) {
  if (capacity <= 0) {
    return SizeError("capacity must be positive, got " +
                     std::to_string(capacity));
  }
  uint64_t cap = static_cast<uint64_t>(capacity);
  if (cap % kSectorSize != 0) {
    return InvalidParameter("capacity " + std::to_string(cap) +
                            " is not a multiple of 512");
  }
  if (cap > kMaxCapacity) {
    return InvalidParameter("capacity " + std::to_string(cap) +
                            " is above the 8 EiB limit");
  }
  return RoundUp(cap, kCapacityAlignment);
}

Result<CheckedVolumeRequest> CheckVolumeRequest(const VolumeRequest& request) {
  const bool raw = request.format == VolumeFormat::kRaw;
  const bool sparse = request.allocation == Allocation::kSparse;
  if (request.kind == DomainKind::kBlock && raw && sparse) {
    return Status(Code::kInvalidArgument,
                  "RAW SPARSE volumes are not supported on block domains",
                  storage_code::kIncorrectType);
  }
  if (request.has_parent && raw) {
    return Status(Code::kInvalidArgument,
                  "a volume with a parent must be COW",
                  storage_code::kIncorrectFormat);
  }
  CheckedVolumeRequest out;
  ASSIGN_OR_RETURN(out.capacity, CheckCapacity(request.capacity));
  if (request.has_parent && out.capacity < request.parent_capacity) {
    return InvalidParameter("capacity " + std::to_string(out.capacity) +
                            " is smaller than the parent's " +
                            std::to_string(request.parent_capacity));
  }
  if (request.initial_size.has_value()) {
    int64_t initial = *request.initial_size;
    bool allowed = request.kind == DomainKind::kFile
                       ? raw && !sparse
                       : !raw && sparse;
    if (!allowed) {
      return InvalidParameter(
          std::string("initial size is not supported for ") +
          std::string(formats::ToString(request.format)) + " " +
          std::string(formats::ToString(request.allocation)) + " volumes on " +
          (request.kind == DomainKind::kFile ? "file" : "block") +
          " domains");
    }
    if (initial < 0 || static_cast<uint64_t>(initial) > out.capacity) {
      return InvalidParameter("initial size must be in 0..capacity");
    }
    out.initial_size = RoundUp(static_cast<uint64_t>(initial),
                               kCapacityAlignment);
  }
  return out;
}

}  // namespace sanpool
