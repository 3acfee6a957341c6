#include "tools/certs/make_certs.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <utility>

namespace sanpool::tools {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BigNum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// The oldest queued OpenSSL error, for messages; clears the queue.
Status OpenSslError(std::string_view what) {
  unsigned long err = ERR_get_error();
  char buf[256] = "unknown error";
  if (err != 0) ERR_error_string_n(err, buf, sizeof(buf));
  ERR_clear_error();
  return InternalError(std::string(what) + ": " + buf);
}

Result<PKey> NewKey() {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generate EC key");
  return key;
}

struct CertSpec {
  std::string common_name;
  // (NID, value in OpenSSL's config syntax), applied in order.
  std::vector<std::pair<int, std::string>> extensions;
  int days;
};

// Builds and signs a certificate for `key`. A null `issuer` makes it
// self-signed (signed with `key` itself).
Result<Cert> NewCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                     EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  BigNum serial(BN_new());
  if (!serial || !X509_set_version(cert.get(), X509_VERSION_3) ||
      !BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      // Back-dated an hour against clock skew between hosts.
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.days) * 86400) ||
      !X509_set_pubkey(cert.get(), key)) {
    return OpenSslError("fill certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto text = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.c_str()); };
  if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, text("sanpool"), -1, -1, 0) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, text(spec.common_name), -1, -1, 0) ||
      !X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name)) {
    return OpenSslError("set certificate names");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : spec.extensions) {
    Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext) {
      ERR_clear_error();
      return InvalidArgumentError(std::string("bad certificate extension ") + OBJ_nid2sn(nid) +
                                  "=" + value);
    }
    if (!X509_add_ext(cert.get(), ext.get(), -1)) return OpenSslError("add extension");
  }
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256())) {
    return OpenSslError("sign certificate");
  }
  return cert;
}

Result<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0) return OpenSslError("read PEM");
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) return OpenSslError("write certificate PEM");
  return BioText(bio.get());
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return OpenSslError("write key PEM");
  }
  return BioText(bio.get());
}

// Writes NAME.pem (0644) and NAME.key (0600) into dir.
Status WritePair(Env& env, const std::string& dir, const std::string& name, X509* cert,
                 EVP_PKEY* key) {
  ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key));
  ASSIGN_OR_RETURN(std::string cert_pem, CertPem(cert));
  RETURN_IF_ERROR(env.WriteFileAtomic(dir + "/" + name + ".key", key_pem, 0600));
  return env.WriteFileAtomic(dir + "/" + name + ".pem", cert_pem, 0644);
}

}  // namespace

Status MakeCerts(Env& env, const CertRequest& request) {
  if (request.days <= 0) return InvalidArgumentError("days must be positive");
  std::string san = "IP:127.0.0.1,IP:::1,DNS:localhost";
  if (!request.host_name.empty() && request.host_name != "localhost") {
    san += ",DNS:" + request.host_name;
  }
  for (const std::string& extra : request.extra_sans) {
    if (!(extra.starts_with("DNS:") || extra.starts_with("IP:")) ||
        extra.find(',') != std::string::npos) {
      return InvalidArgumentError("subjectAltName entry '" + extra +
                                  "': expected DNS:name or IP:address");
    }
    san += "," + extra;
  }
  std::string host_cn = request.host_name.empty() ? "localhost" : request.host_name;

  ASSIGN_OR_RETURN(PKey ca_key, NewKey());
  ASSIGN_OR_RETURN(Cert ca, NewCert({"sanpool test CA",
                                     {{NID_basic_constraints, "critical,CA:TRUE"},
                                      {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                      {NID_subject_key_identifier, "hash"}},
                                     request.days},
                                    ca_key.get(), nullptr, nullptr));
  ASSIGN_OR_RETURN(PKey host_key, NewKey());
  ASSIGN_OR_RETURN(Cert host, NewCert({host_cn,
                                       {{NID_basic_constraints, "CA:FALSE"},
                                        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                                        {NID_ext_key_usage, "serverAuth,clientAuth"},
                                        {NID_subject_alt_name, san},
                                        {NID_authority_key_identifier, "keyid:always"}},
                                       request.days},
                                      host_key.get(), ca.get(), ca_key.get()));
  ASSIGN_OR_RETURN(PKey client_key, NewKey());
  ASSIGN_OR_RETURN(Cert client, NewCert({"sanpool-client",
                                         {{NID_basic_constraints, "CA:FALSE"},
                                          {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                                          {NID_ext_key_usage, "clientAuth"},
                                          {NID_authority_key_identifier, "keyid:always"}},
                                         request.days},
                                        client_key.get(), ca.get(), ca_key.get()));

  RETURN_IF_ERROR(env.CreateDirs(request.dir, 0755));
  RETURN_IF_ERROR(WritePair(env, request.dir, "ca", ca.get(), ca_key.get()));
  RETURN_IF_ERROR(WritePair(env, request.dir, "host", host.get(), host_key.get()));
  return WritePair(env, request.dir, "client", client.get(), client_key.get());
}

}  // namespace sanpool::tools
