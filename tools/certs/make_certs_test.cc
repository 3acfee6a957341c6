#include "tools/certs/make_certs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

namespace sanpool::tools {
namespace {

using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

// A fresh temporary directory, removed with its content.
class CertDir {
 public:
  CertDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "make_certs_XXXXXX").string();
    root_ = mkdtemp(pattern.data());
    dir_ = root_ + "/pki";  // MakeCerts creates it
  }
  ~CertDir() { std::filesystem::remove_all(root_); }

  Status Make(std::vector<std::string> extra_sans = {}) {
    return MakeCerts(*env_, {.dir = dir_, .host_name = "node7", .extra_sans = extra_sans});
  }

  CertPtr Load(const std::string& name) {
    CertPtr cert(nullptr, X509_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(Path(name).c_str(), "r"),
                                                  BIO_free);
    if (bio) cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    return cert;
  }

  // Verifies `name` against ca.pem for `purpose` (X509_PURPOSE_SSL_SERVER...).
  bool Verifies(const std::string& name, int purpose) {
    CertPtr ca = Load("ca.pem");
    CertPtr leaf = Load(name);
    if (!ca || !leaf) return false;
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  X509_STORE_free);
    X509_STORE_add_cert(store.get(), ca.get());
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    return X509_verify_cert(ctx.get()) == 1;
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  Env& env() { return *env_; }

 private:
  std::unique_ptr<Env> env_ = NewPosixEnv();
  std::string root_;
  std::string dir_;
};

TEST_CASE("make-certs writes a CA, a host and a client certificate that chain to it") {
  CertDir pki;
  REQUIRE(pki.Make().ok());
  CHECK(pki.Verifies("host.pem", X509_PURPOSE_SSL_SERVER));
  CHECK(pki.Verifies("client.pem", X509_PURPOSE_SSL_CLIENT));
  CHECK_FALSE(pki.Verifies("client.pem", X509_PURPOSE_SSL_SERVER));
}

TEST_CASE("make-certs host certificate names loopback, localhost, the host and extras") {
  CertDir pki;
  REQUIRE(pki.Make({"DNS:node7.example", "IP:10.0.0.5"}).ok());
  CertPtr host = pki.Load("host.pem");
  REQUIRE(host);
  CHECK(X509_check_ip_asc(host.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(host.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(host.get(), "10.0.0.5", 0) == 1);
  CHECK(X509_check_host(host.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(host.get(), "node7", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(host.get(), "node7.example", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(host.get(), "other", 0, 0, nullptr) == 0);
}

TEST_CASE("make-certs writes private keys readable by the owner only") {
  CertDir pki;
  REQUIRE(pki.Make().ok());
  for (const char* key : {"ca.key", "host.key", "client.key"}) {
    Result<FileStat> st = pki.env().Stat(pki.Path(key));
    REQUIRE(st.ok());
    CHECK(st->mode == 0600);
  }
  Result<FileStat> cert = pki.env().Stat(pki.Path("host.pem"));
  REQUIRE(cert.ok());
  CHECK(cert->mode == 0644);
}

TEST_CASE("make-certs rejects a malformed subjectAltName without writing anything") {
  CertDir pki;
  Status status = pki.Make({"host1"});
  CHECK(status.code() == Code::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(pki.Path("ca.pem")));
}

}  // namespace
}  // namespace sanpool::tools
