// HttpServer: the HTTP front of `ragd serve`, on cpp-httplib.
//
// Every route goes through one wrapper that, in order: checks the API key against the
// scope the route was registered with (server/auth.h: 401 without a configured key, 403
// for a key of too low a scope or limited to another collection); applies the per-key rate limit (429 + Retry-After); runs the handler; turns
// ApiError, ragd::Error (a 400: the client named something that does not exist or is
// invalid) and any other exception (a 500) into OpenAI-shaped error bodies; records
// ragd_http_requests_total{endpoint,status} and ragd_http_request_duration_seconds; and
// logs one line per request with its id (server/request_id.h: the client's X-Request-Id
// when it is a plain token, else a new one; echoed in the response's X-Request-Id). Public routes (health, readiness) skip auth and rate
// limiting so that probes need no key.
//
// Threads and limits (server/connection_server.h): a connection holds a worker thread only
// while a request is in progress (a streaming response until its last token), so the pool
// must exceed the concurrent streams the scheduler admits (threads: max(128,
// max_concurrent + 16) unless set). Connections still sending headers, or idle between
// requests, wait on one reception thread under header/keep-alive timeouts. Handlers run
// on the worker threads and must be thread-safe. A streamed response is counted in
// metrics and the access log when its last byte is written, with its full duration.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/auth.h"
#include "server/connection_server.h"
#include "server/cors.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "server/trusted_proxies.h"
#include "util/timing.h"

namespace ragd::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (see bind())
  size_t threads = 0;                 // 0: max(128, max_concurrent + 16)
  size_t max_concurrent = 100;        // the scheduler's admission bound (sizes the pool)
  size_t max_body_bytes = 16u << 20;  // larger bodies get 413 (before the body is read)
  // Slow and greedy clients (docs/serving.md, "Connection limits"):
  size_t max_connections = 0;          // requests in progress at once, beyond: 503; 0: threads
  size_t max_pending_connections = 2048;  // connections sending headers or idle; beyond: closed
  double header_timeout_s = 10;        // connect (or first byte after idling) to end of headers
  double read_timeout_s = 10;          // longest silence while a body is read
  double body_timeout_s = 60;          // end of the headers to end of the body
  double write_timeout_s = 60;         // longest wait for a client to take response bytes
  double keep_alive_timeout_s = 5;     // idle time before a kept-alive connection is closed
  int listen_backlog = 1024;
  KeyRing keys;                       // empty: no authentication
  double rate_limit_per_minute = 0;   // per API key (or client address); 0: unlimited
  std::shared_ptr<RedisClient> shared_rate_limits;  // buckets shared by replicas (rate_limiter.h); null: this process
  bool log_requests = true;           // one info line per request
  CorsPolicy cors;                    // browser origins allowed to call the API (server/cors.h); none by default
  TrustedProxies trusted_proxies;     // peers whose X-Forwarded-For names the client; none by default
  std::shared_ptr<const TlsContext> tls;  // HTTPS on every connection; null: plain HTTP
};

// What a handler knows about the caller.
struct RequestInfo {
  std::string api_key;  // the key it authenticated with ("" without keys)
  const ApiKey* key = nullptr;  // its scope and collections (nullptr without keys)
  std::string client;   // remote address
  // The fairness key for the scheduler: the API key, else the body's `user`, else the client.
  std::string user_for(const std::string& body_user) const;
};

class HttpServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const RequestInfo&)>;

  HttpServer(ServerOptions options, MetricsRegistry& metrics);
  ~HttpServer();

  // `endpoint` labels the route in metrics and logs (e.g. "/v1/chat/completions");
  // `scope` is what a key needs to call it (Scope::Public: no key; see server/auth.h).
  void get(const std::string& pattern, const std::string& endpoint, Handler handler, Scope scope);
  void post(const std::string& pattern, const std::string& endpoint, Handler handler, Scope scope);
  void del(const std::string& pattern, const std::string& endpoint, Handler handler, Scope scope);

  // Binds the listening socket; returns the port (useful with port 0). Throws ragd::Error
  // when the address is taken or invalid.
  int bind();
  // Serves until stop() (from another thread or a signal watcher). Requires bind().
  void run();
  void stop();
  bool running() const;
  int port() const { return port_; }

 private:
  httplib::Server::Handler wrap(const std::string& endpoint, Handler handler, Scope scope);
  // Counts the request in metrics and the access log; for a streamed response, when its
  // last byte has been written (or the client went away).
  void record_when_sent(const httplib::Request& req, httplib::Response& res, const std::string& endpoint,
                        const std::string& client, const std::string& request_id, Stopwatch watch);
  void record(const std::string& method, const std::string& path, const std::string& endpoint,
              const std::string& client, const std::string& request_id, int status, double seconds,
              bool complete);

  ServerOptions options_;
  MetricsRegistry& metrics_;
  RateLimiter limiter_;
  std::unique_ptr<ConnectionServer> svr_;
  int port_ = -1;
};

// Writes `body` as JSON with the status.
void send_json(httplib::Response& res, int status, const nlohmann::json& body);

}  // namespace ragd::server
