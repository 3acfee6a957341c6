#include "spm/local_state.h"

#include <charconv>
#include <map>

#include "base/uuid.h"
#include "lease/sanlock.h"

namespace sanpool::spm {
namespace {

Result<int64_t> ParseNumber(const std::map<std::string, std::string>& kv,
                            const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) return DataLossError("local state: no " + key);
  int64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return DataLossError("local state: bad " + key + ": " + text);
  }
  return value;
}

Result<std::string> ParseUuid(const std::map<std::string, std::string>& kv,
                              const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end() || !IsValidUuid(it->second)) {
    return DataLossError("local state: missing or bad " + key);
  }
  return it->second;
}

}  // namespace

std::string EncodeLocalState(const LocalState& state) {
  return "VERSION=" + std::to_string(kLocalStateVersion) +
         "\nPOOL_UUID=" + state.pool_uuid +
         "\nHOST_ID=" + std::to_string(state.host_id) +
         "\nMASTER_SD=" + state.master_sd +
         "\nMASTER_VERSION=" + std::to_string(state.master_version) + "\n";
}

Result<LocalState> DecodeLocalState(std::string_view text) {
  std::map<std::string, std::string> kv;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view()
                                        : text.substr(nl + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return DataLossError("local state: line without '='");
    }
    kv[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  ASSIGN_OR_RETURN(int64_t version, ParseNumber(kv, "VERSION"));
  if (version != kLocalStateVersion) {
    return InvalidArgumentError("local state: unsupported VERSION " +
                                std::to_string(version));
  }
  LocalState state;
  ASSIGN_OR_RETURN(state.pool_uuid, ParseUuid(kv, "POOL_UUID"));
  ASSIGN_OR_RETURN(state.master_sd, ParseUuid(kv, "MASTER_SD"));
  ASSIGN_OR_RETURN(int64_t host_id, ParseNumber(kv, "HOST_ID"));
  if (host_id < 1 || host_id > static_cast<int64_t>(lease::kMaxHostId)) {
    return DataLossError("local state: HOST_ID out of range");
  }
  state.host_id = static_cast<uint64_t>(host_id);
  ASSIGN_OR_RETURN(state.master_version, ParseNumber(kv, "MASTER_VERSION"));
  return state;
}

Result<std::optional<LocalState>> LoadLocalState(Env& env,
                                                 const std::string& path) {
  ASSIGN_OR_RETURN(bool exists, env.Exists(path));
  if (!exists) return std::optional<LocalState>();
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(path, 64 * 1024));
  ASSIGN_OR_RETURN(LocalState state, DecodeLocalState(text));
  return std::optional<LocalState>(std::move(state));
}

Status SaveLocalState(Env& env, const std::string& path,
                      const LocalState& state) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    RETURN_IF_ERROR(env.CreateDirs(path.substr(0, slash), 0755));
  }
  return env.WriteFileAtomic(path, EncodeLocalState(state), 0600);
}

Status RemoveLocalState(Env& env, const std::string& path) {
  ASSIGN_OR_RETURN(bool exists, env.Exists(path));
  if (!exists) return Status::Ok();
  return env.RemoveFile(path);
}

}  // namespace sanpool::spm
