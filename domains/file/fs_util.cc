#include "domains/file/fs_util.h"

#include "domains/file/file_layout.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {

Status RemoveTree(Env& env, const std::string& path) {
  Result<FileStat> st = env.StatLink(path);
  if (!st.ok()) {
    return st.status().code() == Code::kNotFound ? Status::Ok() : st.status();
  }
  if (st->type != FileType::kDirectory) return env.RemoveFile(path);
  ASSIGN_OR_RETURN(std::vector<std::string> names, env.ListDir(path));
  for (const std::string& name : names) {
    RETURN_IF_ERROR(RemoveTree(env, JoinPath(path, name)));
  }
  return env.RemoveDir(path);
}

Status RemoveIfExists(Env& env, const std::string& path) {
  Status s = env.RemoveFile(path);
  return s.code() == Code::kNotFound ? Status::Ok() : s;
}

bool IsAtomicWriteTemp(std::string_view name) {
  return name.size() > 1 && name.front() == '.' &&
         name.find(".tmp.") != std::string_view::npos;
}

Result<formats::VolumeMetadata> ReadVolumeMeta(Env& env,
                                               const std::string& path) {
  // Anything bigger than a few slots is not a .meta file; the decoder
  // reports the overflow.
  Result<std::string> bytes = env.ReadFile(path, 64 * 1024);
  if (!bytes.ok()) {
    if (bytes.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, "volume metadata not found: " + path,
                    storage_code::kVolumeDoesNotExist);
    }
    return bytes.status();
  }
  Result<formats::VolumeMetadata> md = formats::DecodeVolumeMetadata(*bytes);
  if (!md.ok()) return md.status().Annotate(path);
  return md;
}

Status WriteVolumeMeta(Env& env, const std::string& path,
                       const formats::VolumeMetadata& md) {
  ASSIGN_OR_RETURN(std::string text, formats::EncodeVolumeMetadata(md));
  return WithStorageCode(env.WriteFileAtomic(path, text, kVolumeFileMode),
                         storage_code::kVolumeMetadataWriteError);
}

}  // namespace sanpool::file_domain
