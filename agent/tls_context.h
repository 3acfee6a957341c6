// TLS contexts for the agent's TCP listeners (server side) and for clients
// that talk to an agent (tests, the CLI, the bench).
//
// Policy, in one place: TLS 1.2 or newer only; the peer must present a
// certificate signed by the configured CA (mutual TLS on both ends); no
// compression, no renegotiation; a small server session cache. Buffers of
// idle connections are released (SSL_MODE_RELEASE_BUFFERS) so thousands of
// idle TLS clients stay cheap.
//
// Only transport code includes this header (it pulls in Asio's SSL headers).
//
// Thread-safety: building a context is not synchronised; a built context is
// shared read-only by all connections and may be used from any thread.
#ifndef SANPOOL_AGENT_TLS_CONTEXT_H_
#define SANPOOL_AGENT_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "base/status.h"

namespace sanpool::agent {

// PEM files. `ca_file` holds the CA(s) that peers' certificates must chain
// to; `cert_file` is our certificate chain, `key_file` its private key.
struct TlsPemFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

enum class TlsRole { kServer, kClient };

// Builds a context. Server: requires ca/cert/key; the client certificate is
// mandatory (verify_peer | verify_fail_if_no_peer_cert). Client: requires
// ca_file; cert_file/key_file are optional (empty = present no certificate);
// the server certificate is always verified (the caller still sets the host
// name to check with SSL_set1_host / asio::ssl::host_name_verification).
// Errors: kInvalidArgument when a required file name is empty, kNotFound /
// kPermissionDenied / kInvalidArgument when a file cannot be read or parsed,
// or the key does not match the certificate. Never throws.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(
    const TlsPemFiles& files, TlsRole role);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_TLS_CONTEXT_H_
