// StorageServer: the host's storage connections for file domains
// (oVirt's storageServer.py, StoragePool.connectStorageServer, reference
// §1.1 and §7.2): LOCALFS, POSIXFS and NFS. Each connection is made
// visible at `<mnt_root>/<EscapeMountPath(connection)>` (mnt_root is
// `<repository>/mnt`), where DomainRegistry finds the domains it holds.
//
//   LOCALFS  a symlink to the local directory. The path must be absolute,
//            without "." or ".." components, and an existing directory.
//   POSIXFS  mount -t <vfs_type> [-o <mnt_options>] <connection> <dir>
//   NFS      mount -t nfs -o <options> <server:/export> <dir>, options as
//            oVirt's NFSConnection builds them:
//              soft,nosharecache,timeo=<timeout|100>,retrans=<retrans|3>
//              [,nfsvers=N[,minorversion=M]]   protocol_version "3" when
//                                              absent; "auto": none
//              [,<mnt_options>]
//              [,nolock]                       v3 and auto, unless the user
//                                              options hold "lock" or
//                                              "nolock" (BZ1550127)
//            protocol_version must be N or N.M (or "auto").
//            timeo is in deciseconds (100 = 10 s: not below sanlock's
//            io_timeout); a soft mount fails I/O after about 60 s.
//
// Mounts run through the ProcessRunner (argv, never a shell). Every value
// that becomes an argument is checked first (kInvalidArgument 1000): no
// leading '-', no control characters (newline, NUL), no whitespace in
// options, vfs_type in [A-Za-z0-9._+-].
//
// Connect: a connection already mounted at its directory with the same
// source (read from mountinfo) is reported connected without mounting; a
// directory mounted with another source is MountError 477. A mount that
// fails removes the directory it created. Disconnect: `umount -f -l` (force
// and lazy, as oVirt) when mounted, then the directory (or link) is removed;
// disconnecting something not connected succeeds (idempotent).
//
// Results are per connection, oVirt style: {id, status} with status 0 or
// the oVirt error code (451 connection error, 452 disconnection error, 468
// unsupported type, 477 mount failed, 1000 invalid parameter, also for a
// LOCALFS path that is not an existing directory, as oVirt), so one bad connection does not fail the others. The
// full Status of each failure is logged and kept in the result.
//
// The connections made are kept in memory (Connections()); persistence is
// the caller's (the agent: the state file, spm/local_state.h and
// agent/connection_methods.h RestoreSavedConnections).
//
// Blocking: mount/umount runs (bounded by Options timeouts), file I/O.
// Thread-safety: thread-safe; Connect/Disconnect calls are serialized (one
// mount operation at a time on this host, as connections are few).
#ifndef SANPOOL_DOMAINS_STORAGE_SERVER_H_
#define SANPOOL_DOMAINS_STORAGE_SERVER_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/process.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace sanpool {

// oVirt's domainType numbers (vdsm-api.yml StorageDomainType).
enum class ConnectionType {
  kNfs = 1,
  kFcp = 2,
  kIscsi = 3,
  kLocalFs = 4,
  kPosixFs = 6,
  kGlusterFs = 7,
};

// 1/4/6/... or "NFS"/"LOCALFS"/"POSIXFS"/... kInvalidArgument otherwise.
Result<ConnectionType> ParseConnectionType(std::string_view text);
std::string_view ConnectionTypeName(ConnectionType type);

// One connection dict (the wire keys in comments).
struct ConnectionParams {
  std::string id;             // id
  std::string connection;     // connection: path, "srv:/export", device
  std::string vfs_type;       // vfs_type (POSIXFS)
  std::string mnt_options;    // mnt_options: comma separated
  std::string protocol_version;  // protocol_version (NFS): "3", "4.1", "auto"
  std::optional<int> retrans;    // retrans (NFS)
  std::optional<int> timeout;    // timeout (NFS), deciseconds

  bool operator==(const ConnectionParams&) const = default;
};

struct ConnectionStatus {
  std::string id;
  int status = 0;  // 0 or the oVirt error code
  Status error;    // OK when status == 0
};

// A connection this host holds.
struct ActiveConnection {
  ConnectionType type;
  ConnectionParams params;
  std::string local_path;  // the mount dir or link
};

class StorageServer {
 public:
  struct Options {
    std::string mnt_root;  // `<repository>/mnt`
    std::string mount_binary = "/usr/bin/mount";
    std::string umount_binary = "/usr/bin/umount";
    std::string mountinfo_path = "/proc/self/mountinfo";
    std::chrono::milliseconds mount_timeout{std::chrono::seconds(180)};
    std::chrono::milliseconds umount_timeout{std::chrono::seconds(60)};
  };

  // `env` and `runner` must outlive the server. mnt_root is created (with
  // parents) on the first connect if missing.
  StorageServer(Env& env, ProcessRunner& runner, Options options);

  // Connects each connection; one status per input, in order. A
  // connection made (or found mounted) is recorded under its id.
  std::vector<ConnectionStatus> Connect(
      ConnectionType type, const std::vector<ConnectionParams>& connections)
      EXCLUDES(op_mu_, mu_);
  // Disconnects each connection (matched by its path, not only its id) and
  // forgets it.
  std::vector<ConnectionStatus> Disconnect(
      ConnectionType type, const std::vector<ConnectionParams>& connections)
      EXCLUDES(op_mu_, mu_);

  // The connections this host holds, by id.
  std::vector<ActiveConnection> Connections() const EXCLUDES(mu_);

  // The local path of a connection (validated, no I/O).
  Result<std::string> LocalPath(ConnectionType type,
                                const ConnectionParams& params) const;

  // The mount options NFS uses for `params` (exposed for tests).
  static std::string NfsOptions(const ConnectionParams& params);
  // The argv that mounts `params` at `dir` (NFS and POSIXFS).
  Result<std::vector<std::string>> MountArgv(ConnectionType type,
                                             const ConnectionParams& params,
                                             const std::string& dir) const;

 private:
  Status ConnectOne(ConnectionType type, const ConnectionParams& params)
      REQUIRES(op_mu_);
  Status DisconnectOne(ConnectionType type, const ConnectionParams& params)
      REQUIRES(op_mu_);
  Status LinkLocal(const ConnectionParams& params, const std::string& link);
  Status Mount(ConnectionType type, const ConnectionParams& params,
               const std::string& dir);
  Status Unmount(const std::string& dir);
  Result<std::optional<std::string>> MountedSource(const std::string& dir);

  Env& env_;
  ProcessRunner& runner_;
  const Options options_;
  Mutex op_mu_;  // serializes Connect/Disconnect
  mutable Mutex mu_;
  std::map<std::string, ActiveConnection> connections_ GUARDED_BY(mu_);
};

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_STORAGE_SERVER_H_
