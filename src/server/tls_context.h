// TlsContext: the server side of TLS (`ragd serve --tls-cert FILE --tls-key FILE`): one
// OpenSSL SSL_CTX holding the certificate chain and its private key, shared by every
// connection (SSL_CTX is thread-safe once set up). TLS 1.2 is the oldest version offered.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ragd::server {

class TlsContext {
 public:
  // Reads a PEM certificate chain (leaf first) and the PEM private key that matches it.
  // Throws ragd::Error naming the file and OpenSSL's reason when either cannot be read or
  // parsed, or when the key is not the certificate's.
  static std::shared_ptr<const TlsContext> load(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// OpenSSL's reason for the latest error on this thread's queue (emptying it), or
// `fallback` when there is none.
std::string openssl_error(const char* fallback);

}  // namespace ragd::server
