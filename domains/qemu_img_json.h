// Parsers for qemu-img's `--output json` and `-p` output (qemu 5..8).
//
// Only the fields the storage code uses are extracted; unknown fields are
// ignored (qemu adds fields between versions). A field we need that is
// missing or has the wrong JSON type, or text that is not JSON, is kDataLoss
// with storage code 2001 and the field name in the message.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_QEMU_IMG_JSON_H_
#define SANPOOL_DOMAINS_QEMU_IMG_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool {

// One image of `qemu-img info --output json`.
struct QemuImgInfo {
  std::string filename;
  std::string format;         // "raw", "qcow2", ...
  uint64_t virtual_size = 0;  // bytes
  // Bytes allocated on the host (st_blocks); absent on some protocols.
  std::optional<uint64_t> actual_size;
  std::optional<uint64_t> cluster_size;
  std::optional<std::string> backing_filename;  // as stored in the header
  std::optional<std::string> backing_format;
  std::optional<std::string> compat;  // qcow2 "0.10" / "1.1"
  bool corrupt = false;                // qcow2 corrupt bit
  bool dirty = false;
};

// `qemu-img check --output json`.
struct QemuImgCheck {
  std::optional<uint64_t> image_end_offset;  // qcow2: end of used clusters
  uint64_t check_errors = 0;
  uint64_t corruptions = 0;
  uint64_t leaks = 0;
};

// `qemu-img measure --output json`.
struct QemuImgMeasure {
  uint64_t required = 0;
  uint64_t fully_allocated = 0;
  std::optional<uint64_t> bitmaps;
};

Result<QemuImgInfo> ParseQemuImgInfo(std::string_view json);
// `info --backing-chain`: a JSON array, top image first.
Result<std::vector<QemuImgInfo>> ParseQemuImgInfoChain(std::string_view json);
Result<QemuImgCheck> ParseQemuImgCheck(std::string_view json);
Result<QemuImgMeasure> ParseQemuImgMeasure(std::string_view json);

// Percentages from `qemu-img convert -p` output ("    (12.50/100%)\r"...),
// in order; malformed fragments are skipped.
std::vector<double> ParseQemuImgProgress(std::string_view output);

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_QEMU_IMG_JSON_H_
