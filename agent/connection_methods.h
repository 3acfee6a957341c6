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
#include <vector>

#include "agent/method_registry.h"
#include "base/status.h"
#include "domains/storage_server.h"

namespace sanpool::agent {

struct ConnectionMethodsDeps {
  // The server, or null while the agent is starting (the verbs then fail
  // with kUnavailable). A function because main.cc registers methods before
  // it builds the server from the configuration. Required.
  std::function<StorageServer*()> server;
};

Status RegisterConnectionMethods(MethodRegistry& registry,
                                 ConnectionMethodsDeps deps);

// One wire connection dict -> ConnectionParams (exposed for tests).
Result<ConnectionParams> ConnectionParamsFromJson(
    const boost::json::value& value);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_CONNECTION_METHODS_H_
