// Storage connections over JSON-RPC: the agent side of
// domains/storage_server.h (reference §7.2).
//
//   StoragePool.connectStorageServer(storagepoolID, domainType,
//                                    connectionParams)   -> [{id, status}]
//   StoragePool.disconnectStorageServer(storagepoolID, domainType,
//                                       connectionParams) -> [{id, status}]
//
// Both run on a worker (mount and umount block). domainType is oVirt's
// number (1 NFS, 4 LOCALFS, 6 POSIXFS; 2/3/7 are answered per connection
// with 468) or its name. connectionParams is a list of oVirt connection
// dicts; the keys read are id, connection, vfs_type, mnt_options,
// protocol_version, retrans and timeout (numbers or strings of digits);
// other keys (iSCSI's user/password, tpgt, ...) are ignored and never
// logged. A list entry that is not an object or has no string `id` fails
// the whole call (kInvalidArgument, 1000); everything else is reported per
// connection: status 0 or an oVirt error code, and, unlike oVirt, a
// `message` with the reason when it is not 0.
//
// With `record`, the connections made are recorded in the state file (spm/
// local_state.h; atomic rewrite) and the ones disconnected forgotten, so
// the agent can make them again at start (RestoreSavedConnections) before
// it restores its pool. A connection made but not recorded is answered
// 451 (a disconnect not recorded 452) with the reason: calling again is
// safe.
//
// oVirt has no JSON-RPC verb listing a host's connections
// (getStorageConnectionsList is not exposed), so none is registered here;
// StorageServer::Connections() serves the agent's own needs.
//
// Thread-safety: the handlers may run concurrently; StorageServer
// serializes the mount work.
#ifndef SANPOOL_AGENT_CONNECTION_METHODS_H_
#define SANPOOL_AGENT_CONNECTION_METHODS_H_

#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <vector>

#include "agent/method_registry.h"
#include "base/env.h"
#include "base/status.h"
#include "domains/storage_server.h"
#include "spm/local_state.h"

namespace sanpool::agent {

struct ConnectionMethodsDeps {
  // The server, or null while the agent is starting (the verbs then fail
  // with kUnavailable). A function because main.cc registers methods before
  // it builds the server from the configuration. Required.
  std::function<StorageServer*()> server;
  // Records the connections made and forgets the ones disconnected (the
  // agent: spm::UpdateSavedConnections on agent.state_file). Empty: not
  // recorded. A function for the same reason as `server`.
  std::function<Status(ConnectionType type,
                       const std::vector<spm::SavedConnection>& connected,
                       const std::vector<std::string>& disconnected)>
      record;
  // Called after a connectStorageServer that connected at least one
  // connection (the agent: BlockDomainRegistry::ForgetMissingVgs, as oVirt
  // invalidates its lvm cache: new storage may hold VGs that were looked
  // for before and are remembered as missing). Empty: nothing.
  std::function<void()> on_connected;
};

Status RegisterConnectionMethods(MethodRegistry& registry,
                                 ConnectionMethodsDeps deps);

// Makes the connections saved in `state_file` that `server` does not hold
// yet (after a reboot: all of them), one at a time. Failures are logged,
// not returned (the pool restore retries, spm/storage_pool.h `reconnect`).
// Blocks on mounts. Thread-safe.
void RestoreSavedConnections(StorageServer& server, Env& env,
                             const std::string& state_file);

// One wire connection dict -> ConnectionParams (exposed for tests).
Result<ConnectionParams> ConnectionParamsFromJson(
    const boost::json::value& value);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_CONNECTION_METHODS_H_
