// Minimal UTF-8 helpers for the on-storage formats, which follow Python's
// str semantics (code points, not bytes): checksums hash non-ASCII code points
// as XML character references, LVM tags escape them as `&<ord>&`, and
// descriptions are truncated to N code points.
#ifndef SANPOOL_DOMAINS_FORMATS_UTF8_H_
#define SANPOOL_DOMAINS_FORMATS_UTF8_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool::formats {

// Decodes strict UTF-8 (no overlongs, no surrogates, max U+10FFFF).
// Fails with kDataLoss naming `what` on invalid input.
Result<std::vector<char32_t>> DecodeUtf8(std::string_view text,
                                         std::string_view what);

// Appends the UTF-8 encoding of `cp` (REQUIRES: a valid scalar value).
void AppendUtf8(char32_t cp, std::string* out);

// The first `max_code_points` code points of valid UTF-8 `text`.
std::string TruncateUtf8(std::string_view text, size_t max_code_points);

}  // namespace sanpool::formats

#endif  // SANPOOL_DOMAINS_FORMATS_UTF8_H_
