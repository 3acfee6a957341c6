// UUID syntax checks.
//
// sanpool identifies domains, pools, images and volumes by UUIDs that also
// become file names, LV names and VG names, so anything that reaches a path
// or an lvm argument must be a canonical UUID first. The only accepted form
// is the canonical 8-4-4-4-12 hex text, 36 characters:
//
//   "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a"  (lowercase or uppercase hex)
//
// Rejected: braces, "urn:uuid:" prefixes, missing or extra dashes, whitespace,
// path characters, NUL bytes, any other length. The version and variant bits
// are not checked (oVirt accepts any hex UUID, e.g. the blank image UUID
// 00000000-0000-0000-0000-000000000000).
//
// Thread-safety: pure functions.
#ifndef SANPOOL_BASE_UUID_H_
#define SANPOOL_BASE_UUID_H_

#include <string_view>

#include "base/status.h"

namespace sanpool {

// True when `value` is a canonical 8-4-4-4-12 hex UUID.
bool IsValidUuid(std::string_view value);

// OK when IsValidUuid(value); otherwise kInvalidArgument with a message that
// starts with `what` ("params.sdUUID: not a canonical UUID ...") and never
// echoes more than a short, escaped prefix of the value.
Status ValidateUuid(std::string_view value, std::string_view what);

}  // namespace sanpool

#endif  // SANPOOL_BASE_UUID_H_
