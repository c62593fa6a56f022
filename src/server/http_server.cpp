#include "server/http_server.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "server/api_error.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timing.h"

namespace ragd::server {
namespace {

constexpr auto kJsonReplace = nlohmann::json::error_handler_t::replace;

std::string presented_key(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() > kBearer.size() && std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                                                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return auth.substr(kBearer.size());
  }
  return req.get_header_value("X-API-Key");
}

// Constant-time comparison, so response timing does not reveal how much of a key matched.
bool same_key(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.retry_after() > 0) {
    res.set_header("Retry-After", std::to_string(static_cast<long>(std::ceil(e.retry_after()))));
  }
  send_json(res, e.status(), e.body());
}

}  // namespace

std::string RequestInfo::user_for(const std::string& body_user) const {
  if (!api_key.empty()) return "key:" + api_key;
  if (!body_user.empty()) return "user:" + body_user;
  return "addr:" + client;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, kJsonReplace), "application/json");
}

HttpServer::HttpServer(ServerOptions options, MetricsRegistry& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      limiter_(options_.rate_limit_per_minute),
      svr_(std::make_unique<httplib::Server>()) {
  size_t threads = options_.threads ? options_.threads : std::max<size_t>(128, options_.max_concurrent + 16);
  svr_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr_->set_payload_max_length(options_.max_body_bytes);
  // Streams can pause while a request waits in the queue; do not cut them.
  svr_->set_write_timeout(60, 0);
  svr_->set_read_timeout(60, 0);
  svr_->set_keep_alive_timeout(5);
  svr_->set_tcp_nodelay(true);
  metrics_.counter("ragd_http_requests_total", "HTTP requests by endpoint and status code");
  metrics_.histogram("ragd_http_request_duration_seconds",
                     "HTTP request handling time (for streams: until the handler returned)",
                     MetricsRegistry::exponential_buckets(0.001, 2.5, 14));
  // Requests that never reached a route (unknown path, 413 body too large, bad framing):
  // httplib calls the error handler with the status set and no body yet.
  svr_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message;
    switch (res.status) {
      case 404: message = "no route for " + req.method + " " + req.path + "; see docs/api.md"; break;
      case 413:
        message = "request body too large: the limit is " + std::to_string(options_.max_body_bytes) +
                  " bytes (server.max_body_bytes)";
        break;
      case 400: message = "malformed HTTP request"; break;
      default: message = "HTTP error " + std::to_string(res.status); break;
    }
    int status = res.status;
    send_json(res, status, error_body(status, message));
    metrics_.inc("ragd_http_requests_total", {{"endpoint", "other"}, {"status", std::to_string(status)}});
  });
  svr_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_json(res, 500, error_body(500, "internal error"));
  });
}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::authorized(const httplib::Request& req, std::string& key) const {
  if (options_.api_keys.empty()) return true;
  std::string presented = presented_key(req);
  bool ok = false;
  for (const auto& k : options_.api_keys) ok |= same_key(presented, k);
  if (ok) key = presented;
  return ok;
}

httplib::Server::Handler HttpServer::wrap(const std::string& endpoint, Handler handler, bool is_public) {
  return [this, endpoint, handler = std::move(handler), is_public](const httplib::Request& req,
                                                                   httplib::Response& res) {
    Stopwatch watch;
    RequestInfo info;
    info.client = req.remote_addr;
    try {
      if (!is_public) {
        if (!authorized(req, info.api_key)) {
          res.set_header("WWW-Authenticate", "Bearer");
          throw ApiError(401,
                         "missing or invalid API key: send 'Authorization: Bearer KEY' (keys are set "
                         "with --api-key or server.api_keys)",
                         "", "", "invalid_api_key");
        }
        double wait = limiter_.acquire(info.api_key.empty() ? info.client : info.api_key);
        if (wait > 0) {
          throw ApiError(429, "rate limit exceeded: " + std::to_string(options_.rate_limit_per_minute) +
                                  " requests per minute per key",
                         "", "", "rate_limit_exceeded")
              .with_retry_after(wait);
        }
      }
      handler(req, res, info);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_json(res, 400, error_body(400, e.what()));
    } catch (const std::exception& e) {
      log::error("{} {}: {}", req.method, req.path, e.what());
      send_json(res, 500, error_body(500, std::string("internal error: ") + e.what()));
    }
    double seconds = watch.seconds();
    metrics_.inc("ragd_http_requests_total", {{"endpoint", endpoint}, {"status", std::to_string(res.status)}});
    metrics_.observe("ragd_http_request_duration_seconds", {{"endpoint", endpoint}}, seconds);
    if (options_.log_requests) {
      log::info("{} {} {} {:.1f} ms {}", req.method, req.path, res.status, seconds * 1000, info.client);
    }
  };
}

void HttpServer::get(const std::string& pattern, const std::string& endpoint, Handler handler, bool is_public) {
  svr_->Get(pattern, wrap(endpoint, std::move(handler), is_public));
}

void HttpServer::post(const std::string& pattern, const std::string& endpoint, Handler handler) {
  svr_->Post(pattern, wrap(endpoint, std::move(handler), false));
}

void HttpServer::del(const std::string& pattern, const std::string& endpoint, Handler handler) {
  svr_->Delete(pattern, wrap(endpoint, std::move(handler), false));
}

int HttpServer::bind() {
  if (options_.port == 0) {
    port_ = svr_->bind_to_any_port(options_.host);
  } else if (svr_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0) {
    fail("cannot listen on {}:{} (address in use or not local?); pick another with --port",
         options_.host, options_.port);
  }
  return port_;
}

void HttpServer::run() { svr_->listen_after_bind(); }

void HttpServer::stop() {
  if (svr_ && svr_->is_running()) svr_->stop();
}

bool HttpServer::running() const { return svr_->is_running(); }

}  // namespace ragd::server
