// MakeCerts: a throw-away PKI for sanpool's mutual TLS (`sanpool make-certs`).
//
// Writes into a directory (created if missing):
//
//   ca.pem ca.key            self-signed CA (EC P-256, SHA-256)
//   host.pem host.key        agent certificate signed by the CA; subjectAltName
//                            IP:127.0.0.1, IP:::1, DNS:localhost, DNS:<host
//                            name> plus extra entries; serverAuth + clientAuth
//   client.pem client.key    client certificate (CN sanpool-client), clientAuth
//
// Keys are PKCS#8 PEM written mode 0600, certificates 0644; existing files
// are replaced atomically. Generated with OpenSSL's C API in-process (no
// openssl child process). For tests and the rig only: production deployments
// bring their own PKI.
//
// Thread-safety: MakeCerts may run concurrently for distinct directories.
#ifndef SANPOOL_TOOLS_CERTS_MAKE_CERTS_H_
#define SANPOOL_TOOLS_CERTS_MAKE_CERTS_H_

#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace sanpool::tools {

struct CertRequest {
  std::string dir;
  // The agent host's name for its certificate's CN and a DNS SAN; empty or
  // "localhost" adds nothing beyond the defaults.
  std::string host_name;
  // Extra subjectAltName entries in OpenSSL syntax: "DNS:host1", "IP:10.0.0.5".
  std::vector<std::string> extra_sans;
  int days = 3650;
};

// kInvalidArgument for a malformed extra SAN or days <= 0; file errors as
// Env reports them; kInternal if OpenSSL fails otherwise.
Status MakeCerts(Env& env, const CertRequest& request);

}  // namespace sanpool::tools

#endif  // SANPOOL_TOOLS_CERTS_MAKE_CERTS_H_
