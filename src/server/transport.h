// Transport: one client connection's byte channel under ConnectionServer, a plain socket
// or a TLS session over one (server/tls_transport.h).
//
// Every call is non-blocking: it moves what it can at once, or says which socket
// readiness (poll events) to wait for before calling again. The callers own the waiting
// and its deadlines (the reception loop, DeadlineStream), so the same limits hold for
// both kinds of connection. The transport owns the socket: destroying it closes it.
//
// A transport is used by one thread at a time (reception, then a worker, then reception
// again); the hand-offs between them synchronise.
#pragma once

#include <sys/types.h>

namespace ragd::server {

class Transport {
 public:
  // The result of a recv / send.
  struct Io {
    ssize_t n = 0;   // > 0: bytes moved; 0: the peer closed (recv only); < 0: see wait
    short wait = 0;  // n < 0: retry once the socket is ready for these poll events; 0: failed
  };
  enum class Handshake {
    Done,     // ready for recv / send
    Wait,     // call again once the socket is ready for `events`
    NotTls,   // the client spoke something else (plain HTTP) on a TLS port
    Failed,   // the client went away or the protocol failed; error() says why
  };

  explicit Transport(int fd) : fd_(fd) {}
  virtual ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int fd() const { return fd_; }

  // Sets the connection up (the TLS handshake); a plain socket is Done at once.
  virtual Handshake handshake(short& events) {
    (void)events;
    return Handshake::Done;
  }
  virtual Io recv(char* buf, size_t size);
  virtual Io send(const char* buf, size_t size);
  // Bytes taken off the socket but not yet returned by recv(): poll() cannot see them.
  virtual bool has_pending() const { return false; }
  // Ends our side of the connection (TLS: close_notify first); the peer's bytes can still
  // be drained from fd() with ::recv.
  virtual void close_write();
  // Why the last handshake / recv / send failed ("" if unknown).
  virtual const char* error() const { return ""; }

 private:
  int fd_;
};

}  // namespace ragd::server
