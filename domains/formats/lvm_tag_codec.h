// LVM tag escaping used for block-domain metadata (`MDT_` VG tags).
//
// oVirt's lvmTagEncode: every character outside [a-zA-Z0-9_+.\-/=!:#] becomes
// "&<decimal code point>&" (space -> "&32&", comma -> "&44&", "é" -> "&233&");
// decoding replaces each "&(\d+)&" by the code point. Text is UTF-8.
#ifndef SANPOOL_DOMAINS_FORMATS_LVM_TAG_CODEC_H_
#define SANPOOL_DOMAINS_FORMATS_LVM_TAG_CODEC_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace sanpool::formats {

inline constexpr std::string_view kMetadataTagPrefix = "MDT_";

// kInvalidArgument if `text` is not UTF-8.
Result<std::string> LvmTagEncode(std::string_view text);
// kDataLoss if an escape names an invalid code point.
Result<std::string> LvmTagDecode(std::string_view tag);

}  // namespace sanpool::formats

#endif  // SANPOOL_DOMAINS_FORMATS_LVM_TAG_CODEC_H_
