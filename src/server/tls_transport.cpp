#include "server/tls_transport.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace ragd::server {
namespace {

// The first byte of every TLS connection: a record of content type "handshake".
constexpr unsigned char kHandshakeRecord = 0x16;

}  // namespace

TlsTransport::TlsTransport(int fd, std::shared_ptr<const TlsContext> ctx)
    : Transport(fd), ctx_(std::move(ctx)), ssl_(SSL_new(ctx_->get())) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (ssl_) {
    SSL_set_fd(ssl_, fd);
    SSL_set_accept_state(ssl_);
  } else {
    error_ = openssl_error("cannot create a TLS session");
  }
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

Transport::Handshake TlsTransport::handshake(short& events) {
  if (!ssl_) return Handshake::Failed;
  if (established_) return Handshake::Done;
  if (!saw_handshake_record_) {
    unsigned char first = 0;
    ssize_t n = ::recv(fd(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return Handshake::Failed;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return Handshake::Failed;
      events = POLLIN;
      return Handshake::Wait;
    }
    if (first != kHandshakeRecord) return Handshake::NotTls;
    saw_handshake_record_ = true;
  }
  ERR_clear_error();
  int ret = SSL_accept(ssl_);
  if (ret == 1) {
    established_ = true;
    return Handshake::Done;
  }
  Io io = failed_io(ret);
  if (io.wait == 0) return Handshake::Failed;
  events = io.wait;
  return Handshake::Wait;
}

Transport::Io TlsTransport::failed_io(int ret) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return {-1, POLLIN};
    case SSL_ERROR_WANT_WRITE:
      return {-1, POLLOUT};
    case SSL_ERROR_ZERO_RETURN:  // close_notify: a clean end of the stream
      return {0, 0};
    case SSL_ERROR_SYSCALL:
      error_ = errno ? std::strerror(errno) : "connection closed during TLS";
      ERR_clear_error();
      return {-1, 0};
    default:
      error_ = openssl_error("TLS protocol error");
      return {-1, 0};
  }
}

Transport::Io TlsTransport::recv(char* buf, size_t size) {
  if (!established_) return {-1, 0};
  ERR_clear_error();
  errno = 0;
  int ret = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  if (ret > 0) return {ret, 0};
  return failed_io(ret);
}

Transport::Io TlsTransport::send(const char* buf, size_t size) {
  if (!established_) return {-1, 0};
  ERR_clear_error();
  errno = 0;
  int ret = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  if (ret > 0) return {ret, 0};
  Io io = failed_io(ret);
  if (io.n == 0) return {-1, 0};  // the peer closed: nothing more can be written
  return io;
}

bool TlsTransport::has_pending() const { return established_ && SSL_pending(ssl_) > 0; }

void TlsTransport::close_write() {
  if (established_) {
    // Best effort: one non-blocking attempt to send close_notify.
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  Transport::close_write();
}

}  // namespace ragd::server
