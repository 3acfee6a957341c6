// The agent's local pool membership: what this host needs to rejoin its pool
// after an agent restart or a reboot without anyone calling
// StoragePool.connect (DESIGN.md "Working without an engine").
//
// File format (doc/formats/local-state.md), text, one KEY=VALUE per line,
// unknown keys ignored so later versions can add some:
//
//   VERSION=1
//   POOL_UUID=<sp>
//   HOST_ID=<1..2000>
//   MASTER_SD=<sd>
//   MASTER_VERSION=<n>
//
// Written with Env::WriteFileAtomic (temp + fsync + rename + fsync dir):
// after a crash the file is the old or the new state. StoragePool.connect
// saves it, disconnect removes it (the only thing that forgets), start-up
// loads it.
//
// Thread-safety: plain functions and values.
#ifndef SANPOOL_SPM_LOCAL_STATE_H_
#define SANPOOL_SPM_LOCAL_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace sanpool::spm {

inline constexpr int kLocalStateVersion = 1;

struct LocalState {
  std::string pool_uuid;
  uint64_t host_id = 0;
  std::string master_sd;
  int64_t master_version = 0;

  bool operator==(const LocalState&) const = default;
};

// Text and back. Decode: kDataLoss when a required key is missing or a value
// does not parse (canonical UUIDs, host id 1..2000), kInvalidArgument for
// another VERSION.
std::string EncodeLocalState(const LocalState& state);
Result<LocalState> DecodeLocalState(std::string_view text);

// nullopt when the file does not exist; Decode's errors for a damaged file.
Result<std::optional<LocalState>> LoadLocalState(Env& env,
                                                 const std::string& path);
// Atomic replace (mode 0600); creates the parent directory if missing.
Status SaveLocalState(Env& env, const std::string& path,
                      const LocalState& state);
// OK when it does not exist.
Status RemoveLocalState(Env& env, const std::string& path);

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_LOCAL_STATE_H_
