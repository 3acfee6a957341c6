// The agent's local state: what this host needs to rejoin its pool after an
// agent restart or a reboot without anyone calling connectStorageServer or
// StoragePool.connect (DESIGN.md "Working without an engine"): the pool
// membership and the storage connections.
//
// File format (doc/formats/local-state.md), text, one KEY=VALUE per line,
// unknown keys ignored so later versions can add some:
//
//   VERSION=2
//   POOL_UUID=<sp>             \  the membership: all four or none
//   HOST_ID=<1..2000>           |
//   MASTER_SD=<sd>              |
//   MASTER_VERSION=<n>         /
//   CONNECTION=type=LOCALFS&id=<id>&connection=<%-escaped>...   (0..n)
//
// VERSION=1 files (membership only, no connections) are read as well;
// writes are always version 2.
//
// Written with Env::WriteFileAtomic (temp + fsync + rename + fsync dir):
// after a crash the file is the old or the new state. StoragePool.connect
// saves the membership, StoragePool.disconnect removes it (the only thing
// that forgets it); connectStorageServer adds connections and
// disconnectStorageServer removes them. The file is removed when it holds
// neither.
//
// Thread-safety: Save/Remove/UpdateSavedConnections read, modify and write
// the file under one process-wide mutex, so the pool and the connection
// verbs can update their parts of the same file concurrently. Another
// process writing the file is not coordinated with.
#ifndef SANPOOL_SPM_LOCAL_STATE_H_
#define SANPOOL_SPM_LOCAL_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "domains/storage_server.h"

namespace sanpool::spm {

inline constexpr int kLocalStateVersion = 2;

// The pool membership.
struct LocalState {
  std::string pool_uuid;
  uint64_t host_id = 0;
  std::string master_sd;
  int64_t master_version = 0;

  bool operator==(const LocalState&) const = default;
};

// A storage connection this host made (connectStorageServer).
struct SavedConnection {
  ConnectionType type = ConnectionType::kLocalFs;
  ConnectionParams params;

  bool operator==(const SavedConnection&) const = default;
};

// The whole file.
struct LocalStateFile {
  std::optional<LocalState> pool;
  std::vector<SavedConnection> connections;  // by id, no duplicates

  bool operator==(const LocalStateFile&) const = default;
};

// Text and back. Decode: kDataLoss when a value does not parse (canonical
// UUIDs, host id 1..2000, a connection without id or with an unknown type),
// when the membership keys are incomplete, or (VERSION=1) missing;
// kInvalidArgument for another VERSION.
std::string EncodeLocalStateFile(const LocalStateFile& file);
Result<LocalStateFile> DecodeLocalStateFile(std::string_view text);
// The membership only; Decode fails with kDataLoss when there is none.
std::string EncodeLocalState(const LocalState& state);
Result<LocalState> DecodeLocalState(std::string_view text);

// The membership: nullopt when the file does not exist or holds none;
// Decode's errors for a damaged file.
Result<std::optional<LocalState>> LoadLocalState(Env& env,
                                                 const std::string& path);
// Sets the membership, keeping the connections (a damaged file is replaced).
// Atomic replace (mode 0600); creates the parent directory if missing.
Status SaveLocalState(Env& env, const std::string& path,
                      const LocalState& state);
// Forgets the membership, keeping the connections. OK when there is none.
Status RemoveLocalState(Env& env, const std::string& path);

// The saved connections (empty when the file does not exist).
Result<std::vector<SavedConnection>> LoadSavedConnections(
    Env& env, const std::string& path);
// Records `connected` (replacing entries of the same id) and forgets the
// ids in `disconnected`, in one atomic write. A damaged file is replaced.
Status UpdateSavedConnections(Env& env, const std::string& path,
                              const std::vector<SavedConnection>& connected,
                              const std::vector<std::string>& disconnected);

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_LOCAL_STATE_H_
