// Storage-domain metadata: the sealed KEY=VALUE dictionary of oVirt's
// `persistent.py`, shared by file domains (`dom_md/metadata`, one line per
// key) and block domains (one `MDT_` VG tag per line, see lvm_tag_codec.h).
//
// Encoding (doc/formats/file-domain.md has the prose):
//   - lines "KEY=VALUE", sorted by key (byte order = Python code-point order);
//   - then "_SHA_CKSUM=<40 lowercase hex>", the SHA-1 of the sorted lines
//     concatenated with no separator, each line ASCII-encoded with non-ASCII
//     code points replaced by XML character references ("&#233;");
//   - in the file, every line ends with "\n".
//
// Decoding is strict where oVirt is lax, because a lax reader is how a torn or
// foreign file gets "repaired" silently: a missing seal is an error (oVirt
// always writes one, so a missing seal means truncation), trailing NULs are
// stripped (direct-I/O padding), lines without "=" and duplicate keys are
// errors. All corruption is kDataLoss with storage code 752.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_FORMATS_DOMAIN_METADATA_H_
#define SANPOOL_DOMAINS_FORMATS_DOMAIN_METADATA_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool::formats {

inline constexpr std::string_view kChecksumKey = "_SHA_CKSUM";
// A file domain's metadata file is read whole; anything bigger is foreign.
inline constexpr size_t kMaxDomainMetadataBytes = 64 * 1024;

using MetadataDict = std::map<std::string, std::string>;

// SHA-1 seal of `dict` (which must not contain kChecksumKey). Fails only if a
// key or value is not valid UTF-8.
Result<std::string> MetadataChecksum(const MetadataDict& dict);

// Sorted "KEY=VALUE" lines followed by the checksum line. Keys must be
// non-empty, without "=", and keys/values without "\n", "\r" or NUL:
// kInvalidArgument otherwise.
Result<std::vector<std::string>> EncodeMetadataLines(const MetadataDict& dict);

// The lines joined, each followed by "\n": the bytes of `dom_md/metadata`.
Result<std::string> EncodeMetadataFile(const MetadataDict& dict);

// Parses lines (checksum line in any position); verifies the seal.
Result<MetadataDict> DecodeMetadataLines(const std::vector<std::string>& lines);

// Parses file bytes: trailing NULs stripped, split on "\n" ("\r\n" accepted).
// Empty input (after stripping) is an empty dictionary, as in oVirt.
Result<MetadataDict> DecodeMetadataFile(std::string_view bytes);

}  // namespace sanpool::formats

#endif  // SANPOOL_DOMAINS_FORMATS_DOMAIN_METADATA_H_
