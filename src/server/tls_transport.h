// TlsTransport: a Transport that speaks TLS (server side) over a client socket, for
// `ragd serve --tls-cert/--tls-key`.
//
// The socket is switched to non-blocking: OpenSSL reads and writes it with read()/write(),
// and every wait is left to the caller's poll() and deadlines, exactly as for a plain
// socket. A write to a vanished client raises SIGPIPE, which `ragd serve` ignores.
//
// The handshake first peeks at the client's first byte: a TLS connection starts with a
// handshake record (type 22); anything else is a client speaking plain HTTP to this port,
// which the caller can answer in plain text rather than with a TLS alert it cannot read.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "server/tls_context.h"
#include "server/transport.h"

namespace ragd::server {

class TlsTransport : public Transport {
 public:
  TlsTransport(int fd, std::shared_ptr<const TlsContext> ctx);
  ~TlsTransport() override;

  Handshake handshake(short& events) override;
  Io recv(char* buf, size_t size) override;
  Io send(const char* buf, size_t size) override;
  bool has_pending() const override;
  void close_write() override;
  const char* error() const override { return error_.c_str(); }

 private:
  // Maps an SSL_read / SSL_write / SSL_accept result that is not success.
  Io failed_io(int ret);

  std::shared_ptr<const TlsContext> ctx_;
  SSL* ssl_;
  bool saw_handshake_record_ = false;
  bool established_ = false;
  std::string error_;
};

}  // namespace ragd::server
