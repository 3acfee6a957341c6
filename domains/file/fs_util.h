// Small file-system helpers shared by the file-domain code, built only on
// Env primitives (so a FaultEnv sees every step).
//
// Thread-safety: stateless functions; the caller serializes access to the
// trees it changes.
#ifndef SANPOOL_DOMAINS_FILE_FS_UTIL_H_
#define SANPOOL_DOMAINS_FILE_FS_UTIL_H_

#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "domains/formats/volume_metadata.h"

namespace sanpool::file_domain {

// rm -rf `path` without following symlinks. OK if it does not exist. Stops
// at the first error (what was removed stays removed).
Status RemoveTree(Env& env, const std::string& path);

// Removes a file; OK if it does not exist.
Status RemoveIfExists(Env& env, const std::string& path);

// Whether `name` is a temporary file of Env::WriteFileAtomic
// (".<base>.tmp.<pid>.<n>.<r>").
bool IsAtomicWriteTemp(std::string_view name);

// Reads and decodes a `.meta` file. kNotFound (201) if it does not exist;
// decoder errors (207 / 751 / 756) otherwise, annotated with the path.
Result<formats::VolumeMetadata> ReadVolumeMeta(Env& env,
                                               const std::string& path);
// Encodes `md` and replaces `path` atomically (mode 0660). Storage code 208
// on failure (the errno detail is kept).
Status WriteVolumeMeta(Env& env, const std::string& path,
                       const formats::VolumeMetadata& md);

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_FS_UTIL_H_
