#include "agent/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>

namespace sanpool::agent {
namespace {

namespace ssl = boost::asio::ssl;

Status CheckReadable(const std::string& path, std::string_view what) {
  if (path.empty()) {
    return InvalidArgumentError(std::string(what) + " is not configured");
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return ErrnoToStatus(errno, std::string(what) + " " + path)
        .WithDetail("path", path);
  }
  return Status::Ok();
}

Status SslError(std::string_view what, const std::string& path,
                const boost::system::error_code& ec) {
  return InvalidArgumentError(std::string(what) + " " + path + ": " +
                              ec.message())
      .WithDetail("path", path);
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsPemFiles& files,
                                                     TlsRole role) {
  const bool server = role == TlsRole::kServer;
  RETURN_IF_ERROR(CheckReadable(files.ca_file, "tls ca_file"));
  const bool with_cert = server || !files.cert_file.empty();
  if (with_cert) {
    RETURN_IF_ERROR(CheckReadable(files.cert_file, "tls cert_file"));
    RETURN_IF_ERROR(CheckReadable(files.key_file, "tls key_file"));
  }

  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server
                                                   : ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return InternalError("cannot require TLS 1.2");
  }
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);

  boost::system::error_code ec;
  ctx->load_verify_file(files.ca_file, ec);
  if (ec) return SslError("cannot load CA file", files.ca_file, ec);
  if (with_cert) {
    ctx->use_certificate_chain_file(files.cert_file, ec);
    if (ec) return SslError("cannot load certificate", files.cert_file, ec);
    ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
    if (ec) return SslError("cannot load private key", files.key_file, ec);
    if (SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return InvalidArgumentError("private key " + files.key_file +
                                  " does not match certificate " +
                                  files.cert_file);
    }
  }
  ssl::verify_mode mode = ssl::verify_peer;
  if (server) mode |= ssl::verify_fail_if_no_peer_cert;
  ctx->set_verify_mode(mode, ec);
  if (ec) return InternalError("cannot set verify mode: " + ec.message());

  if (server) {
    // Resumption with client certificates needs a session id context; keep
    // the cache small (each entry holds a peer certificate).
    static constexpr unsigned char kSessionContext[] = "sanpool-agent";
    SSL_CTX_set_session_id_context(native, kSessionContext,
                                   sizeof(kSessionContext) - 1);
    SSL_CTX_sess_set_cache_size(native, 1024);
  }
  return ctx;
}

}  // namespace sanpool::agent
