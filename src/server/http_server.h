// HttpServer: the HTTP front of `ragd serve`, on cpp-httplib.
//
// Every route goes through one wrapper that, in order: answers 401 when API keys are
// configured and the request carries none of them (Authorization: Bearer KEY, or
// X-API-Key); applies the per-key rate limit (429 + Retry-After); runs the handler; turns
// ApiError, ragd::Error (a 400: the client named something that does not exist or is
// invalid) and any other exception (a 500) into OpenAI-shaped error bodies; records
// ragd_http_requests_total{endpoint,status} and ragd_http_request_duration_seconds; and
// logs one line per request. Public routes (health, readiness, metrics) skip auth and
// rate limiting so that probes and scrapers need no key.
//
// Threads: httplib serves each connection on a task-queue thread for the connection's
// whole life, and a streaming response holds its thread until the last token, so the pool
// must exceed the concurrent streams the scheduler admits (threads: max(128,
// max_concurrent + 16) unless set). Handlers run on those threads and must be thread-safe.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/metrics.h"
#include "server/rate_limiter.h"

namespace ragd::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (see bind())
  size_t threads = 0;                 // 0: max(128, max_concurrent + 16)
  size_t max_concurrent = 100;        // the scheduler's admission bound (sizes the pool)
  size_t max_body_bytes = 16u << 20;  // larger bodies get 413
  std::vector<std::string> api_keys;  // empty: no authentication
  double rate_limit_per_minute = 0;   // per API key (or client address); 0: unlimited
  bool log_requests = true;           // one info line per request
};

// What a handler knows about the caller.
struct RequestInfo {
  std::string api_key;  // the key it authenticated with ("" without keys)
  std::string client;   // remote address
  // The fairness key for the scheduler: the API key, else the body's `user`, else the client.
  std::string user_for(const std::string& body_user) const;
};

class HttpServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const RequestInfo&)>;

  HttpServer(ServerOptions options, MetricsRegistry& metrics);
  ~HttpServer();

  // `endpoint` labels the route in metrics and logs (e.g. "/v1/chat/completions"); a
  // public route needs no API key.
  void get(const std::string& pattern, const std::string& endpoint, Handler handler, bool is_public = false);
  void post(const std::string& pattern, const std::string& endpoint, Handler handler);
  void del(const std::string& pattern, const std::string& endpoint, Handler handler);

  // Binds the listening socket; returns the port (useful with port 0). Throws ragd::Error
  // when the address is taken or invalid.
  int bind();
  // Serves until stop() (from another thread or a signal watcher). Requires bind().
  void run();
  void stop();
  bool running() const;
  int port() const { return port_; }

 private:
  httplib::Server::Handler wrap(const std::string& endpoint, Handler handler, bool is_public);
  bool authorized(const httplib::Request& req, std::string& key) const;

  ServerOptions options_;
  MetricsRegistry& metrics_;
  RateLimiter limiter_;
  std::unique_ptr<httplib::Server> svr_;
  int port_ = -1;
};

// Writes `body` as JSON with the status.
void send_json(httplib::Response& res, int status, const nlohmann::json& body);

}  // namespace ragd::server
