// ConnectionServer: an httplib::Server whose connections cost no thread until a request's
// headers have arrived, and whose limits hold against slow and greedy clients.
//
// httplib serves each connection on a pool thread from accept to close, so 140 clients
// sending headers byte by byte starve every other request, and its listen backlog is 5.
// Here the accept loop hands each socket to a reception thread instead, which polls all
// connections that are still sending headers (or idling between kept-alive requests):
//   - headers complete → the connection goes to a worker thread for one request (or
//     several pipelined ones), then back to reception while it idles;
//   - headers not complete within header_timeout, or larger than max_header_bytes →
//     closed (with a best-effort 408 / 431);
//   - more than max_pending connections waiting → the oldest is closed;
//   - headers complete but max_connections requests already in progress → 503 with
//     Retry-After at once, and closed.
// While a worker reads a body, DeadlineStream bounds silence (read_timeout), the whole
// body (body_timeout after the headers) and its size. A declared Content-Length over
// max_body_bytes is answered 413 before any of the body is read.
//
// With use_tls(), every connection speaks TLS (server/tls_transport.h). The handshake runs
// on the reception thread, non-blocking and inside the header timeout, so a client that
// connects and never says hello holds nothing but its socket; a client that speaks plain
// HTTP to the TLS port is answered 400 in plain text. Reads and writes then go through
// the same DeadlineStream limits as plain HTTP.
//
// The listening socket sets SO_REUSEADDR only (httplib's default adds SO_REUSEPORT, with
// which a second server on the same port starts and silently shares its traffic), and
// listens with a backlog of listen_backlog.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "server/deadline_stream.h"
#include "server/tls_context.h"

namespace ragd::server {

struct ConnectionLimits {
  size_t workers = 128;                 // threads serving requests
  size_t max_connections = 128;         // requests in progress at once (≤ workers)
  size_t max_pending = 2048;            // connections waiting for headers or idling
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds write_timeout{60000};
  std::chrono::milliseconds keep_alive_timeout{5000};
  size_t keep_alive_max_requests = 100;
  size_t max_header_bytes = 64u << 10;
  size_t max_body_bytes = 16u << 20;
  int listen_backlog = 1024;
};

class ConnectionServer : public httplib::Server {
 public:
  // `on_refused(status)` is called (from the reception thread) for every connection
  // answered 503 / 408 / 431 there, for metrics.
  explicit ConnectionServer(ConnectionLimits limits, std::function<void(int)> on_refused = nullptr);
  ~ConnectionServer() override;

  // Serves TLS on every connection from now on; call before listening.
  void use_tls(std::shared_ptr<const TlsContext> tls) { tls_ = std::move(tls); }
  bool uses_tls() const { return tls_ != nullptr; }

  // Sets the listen backlog on the bound socket; call after bind_to_port / bind_to_any_port.
  bool apply_backlog();

  // For handlers on a worker thread: why reading the current request's body failed, and a
  // request to close the connection after the response (the body was left unread).
  static DeadlineStream::Failure current_failure();
  static void close_after_response();

  const ConnectionLimits& limits() const { return limits_; }

 private:
  class Reception;
  struct Pending;

  bool process_and_close_socket(::socket_t sock) override;
  // Runs on a worker: serves requests while complete ones are buffered, then hands the
  // connection back to reception (or closes it).
  void serve(Pending conn);
  // Whether the request's Content-Length exceeds max_body_bytes (then the connection is
  // marked to close after the response).
  bool declared_too_large(const httplib::Request& req) const;
  // Stops reception and the workers once (httplib's task queue shutdown, or destruction).
  void shut_down();

  ConnectionLimits limits_;
  std::function<void(int)> on_refused_;
  std::shared_ptr<const TlsContext> tls_;
  std::unique_ptr<httplib::ThreadPool> workers_;
  std::unique_ptr<Reception> reception_;
  std::atomic<size_t> active_{0};
  std::once_flag shut_down_;
};

}  // namespace ragd::server
