// DeadlineStream: httplib's view of one client connection, with time limits httplib's own
// socket stream lacks.
//
// httplib bounds each read by a timeout, so a client that sends one byte every few
// seconds never trips it and holds its thread forever. This stream adds the bounds that
// hold a slow client to account: reads fail once the request's deadline has passed (the
// body deadline, set when the headers are complete), or after `read_timeout` of silence,
// and a body (chunked framing included) may not exceed a byte budget. The bytes move
// through a Transport (plain socket or TLS, server/transport.h), which never blocks;
// every wait is a poll() with the time left, so the limits are the same for both.
//
// Bytes already received (the request headers, which the connection server collects
// before a thread is spent on the connection) are served first from `buffered`.
#pragma once

#include <httplib.h>

#include <chrono>
#include <string>

#include "server/transport.h"

namespace ragd::server {

class DeadlineStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Failure { None, Timeout, BodyTooLarge, Closed };

  // `io` outlives the stream.
  DeadlineStream(Transport& io, std::string buffered, std::chrono::milliseconds read_timeout,
                 std::chrono::milliseconds write_timeout);

  // Reads fail once `deadline` has passed (set to the header deadline first).
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  // The request's headers are read; its body must arrive by `deadline` and be at most
  // `max_bytes` on the wire.
  void begin_body(Clock::time_point deadline, size_t max_bytes);
  // The request declares no body (neither Content-Length nor chunked): reads return 0
  // (end of body) at once, leaving any bytes of a pipelined next request in place.
  void end_body() { body_ended_ = true; }

  Failure failure() const { return failure_; }
  // Bytes received but not consumed (the start of a pipelined next request).
  std::string take_buffered();
  bool has_buffered() const { return pos_ < buffered_.size(); }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  ::socket_t socket() const override { return io_.fd(); }

 private:
  // Waits until the socket is ready for `events` or the time left runs out; false on
  // timeout or a socket error.
  bool wait_for(short events, std::chrono::milliseconds limit) const;

  Transport& io_;
  std::string buffered_;
  size_t pos_ = 0;
  std::chrono::milliseconds read_timeout_, write_timeout_;
  Clock::time_point deadline_ = Clock::time_point::max();
  size_t body_budget_ = static_cast<size_t>(-1);
  Failure failure_ = Failure::None;
  bool body_ended_ = false;
};

// "ip", port of a socket's peer (remote) or own (local) address.
void socket_address(int fd, bool remote, std::string& ip, int& port);

}  // namespace ragd::server
