// Volume metadata: the text of a file volume's `<vol>.meta` and of a block
// volume's 8 KiB slot in the `metadata` LV (same text, NUL-padded to 512).
//
// V5 encoding: keys sorted, one "KEY=VALUE\n" each, then "EOF\n"; at most 512
// bytes (kMetadataOverflow, 756, otherwise):
//   CAP=<bytes> CTIME=<unix s> DESCRIPTION=<<=210 chars> DISKTYPE=<DATA...>
//   DOMAIN=<sd> FORMAT=RAW|COW GEN=<0..999> IMAGE=<img>
//   LEGALITY=LEGAL|ILLEGAL|FAKE PUUID=<parent|blank> SEQ=<0..2^32-1>
//   TYPE=PREALLOCATED|SPARSE VOLTYPE=LEAF|INTERNAL|SHARED
// V4 has SIZE (512-byte sectors) and MTIME=0 instead of CAP and SEQ.
//
// Parsing is tolerant where oVirt is (whitespace around keys and values,
// lines without "=" skipped, anything after the "EOF" line ignored, trailing
// NULs, SIZE used when CAP is missing, GEN/SEQ default 0) and strict where a
// lax reader would hide damage: the "EOF" line is required (its absence means
// a torn write), unknown keys and bad values are errors, and a "NONE" key is
// oVirt's "metadata cleared" marker. All of these are kDataLoss with a
// storage code (207 read error, 751 missing key, 756 overflow).
//
// Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_FORMATS_VOLUME_METADATA_H_
#define SANPOOL_DOMAINS_FORMATS_VOLUME_METADATA_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sanpool::formats {

inline constexpr size_t kVolumeMetadataSize = 512;   // sc.METADATA_SIZE
inline constexpr size_t kMaxDescriptionChars = 210;  // sc.DESCRIPTION_SIZE
inline constexpr int kMaxGeneration = 999;           // sc.MAX_GENERATION
inline constexpr std::string_view kBlankUuid =
    "00000000-0000-0000-0000-000000000000";

enum class VolumeFormat { kRaw, kCow };                 // RAW=5, COW=4
enum class Allocation { kPreallocated, kSparse };       // 1, 2
enum class VolumeRole { kLeaf, kInternal, kShared };    // VOLTYPE 8, 7, 6
enum class Legality { kLegal, kIllegal, kFake };

std::string_view ToString(VolumeFormat f);
std::string_view ToString(Allocation a);
std::string_view ToString(VolumeRole r);
std::string_view ToString(Legality l);
// oVirt's numeric ids used on the wire (volFormat 4/5, preallocate 1/2).
int WireId(VolumeFormat f);
int WireId(Allocation a);
Result<VolumeFormat> VolumeFormatFromWire(int id);
Result<Allocation> AllocationFromWire(int id);

struct VolumeMetadata {
  uint64_t capacity = 0;  // bytes
  int64_t ctime = 0;
  std::string description;
  std::string disk_type = "DATA";
  std::string domain;
  VolumeFormat format = VolumeFormat::kRaw;
  int generation = 0;
  std::string image;
  Legality legality = Legality::kLegal;
  std::string parent = std::string(kBlankUuid);
  uint32_t sequence = 0;
  Allocation allocation = Allocation::kSparse;
  VolumeRole role = VolumeRole::kLeaf;

  bool operator==(const VolumeMetadata&) const = default;
};

enum class MetadataVersion { kV4 = 4, kV5 = 5 };

// The text for `md`. The description is truncated to 210 code points as
// oVirt does. kInvalidArgument if a value holds "\n"/NUL or the description
// is not UTF-8; kDataLoss+756 if the text exceeds 512 bytes.
Result<std::string> EncodeVolumeMetadata(const VolumeMetadata& md,
                                         MetadataVersion version =
                                             MetadataVersion::kV5);

// Parses `.meta` bytes or a slot (NUL padding allowed).
Result<VolumeMetadata> DecodeVolumeMetadata(std::string_view bytes);

// Next generation, wrapping 999 -> 0 (utils.next_generation).
inline int NextGeneration(int gen) { return gen >= kMaxGeneration ? 0 : gen + 1; }

}  // namespace sanpool::formats

#endif  // SANPOOL_DOMAINS_FORMATS_VOLUME_METADATA_H_
