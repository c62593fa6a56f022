#include "server/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <fstream>

#include "util/error.h"

namespace ragd::server {

std::string openssl_error(const char* fallback) {
  unsigned long code = 0, last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return fallback;
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

std::shared_ptr<const TlsContext> TlsContext::load(const std::string& cert_file, const std::string& key_file) {
  // Unreadable files are told apart from unparsable ones: OpenSSL reports both as "system
  // lib" or "no start line", which names neither the file nor the cause.
  for (const auto& [file, what] : {std::pair{cert_file, "certificate"}, std::pair{key_file, "private key"}}) {
    if (!std::ifstream(file)) fail("TLS {} file '{}' cannot be read", what, file);
  }
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) fail("TLS: cannot create a context: {}", openssl_error("out of memory"));
  std::shared_ptr<const TlsContext> ctx(new TlsContext(raw));
  if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1) {
    fail("TLS: cannot require TLS 1.2: {}", openssl_error("unsupported"));
  }
  // Writes may be retried with the rest of a buffer after a partial write (DeadlineStream).
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A client that closes its socket without close_notify has ended the stream (HTTP's own
  // framing detects a truncated message): a clean end of input, not a protocol error.
  SSL_CTX_set_options(raw, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1) {
    fail("TLS certificate file '{}' is not a PEM certificate: {}", cert_file, openssl_error("unknown error"));
  }
  if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL 3 checks the key against the certificate while loading it.
    int reason = ERR_GET_REASON(ERR_peek_last_error());
    if (reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH) {
      fail("TLS private key file '{}' does not match the certificate in '{}': {}", key_file, cert_file,
           openssl_error("key mismatch"));
    }
    fail("TLS private key file '{}' is not a PEM private key: {}", key_file, openssl_error("unknown error"));
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    fail("TLS private key file '{}' does not match the certificate in '{}': {}", key_file, cert_file,
         openssl_error("key mismatch"));
  }
  return ctx;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace ragd::server
