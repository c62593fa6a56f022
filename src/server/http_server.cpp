#include "server/http_server.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "server/api_error.h"
#include "server/request_id.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timing.h"

namespace ragd::server {
namespace {

constexpr auto kJsonReplace = nlohmann::json::error_handler_t::replace;

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.retry_after() > 0) {
    res.set_header("Retry-After", std::to_string(static_cast<long>(std::ceil(e.retry_after()))));
  }
  nlohmann::json body = e.body();
  body["error"]["message"] = redact_paths(e.what());
  send_json(res, e.status(), body);
}

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.001, seconds) * 1000));
}

ConnectionLimits connection_limits(const ServerOptions& o) {
  ConnectionLimits l;
  l.workers = o.threads ? o.threads : std::max<size_t>(128, o.max_concurrent + 16);
  l.max_connections = o.max_connections ? std::min(o.max_connections, l.workers) : l.workers;
  l.max_pending = o.max_pending_connections;
  l.header_timeout = millis(o.header_timeout_s);
  l.read_timeout = millis(o.read_timeout_s);
  l.body_timeout = millis(o.body_timeout_s);
  l.write_timeout = millis(o.write_timeout_s);
  l.keep_alive_timeout = millis(o.keep_alive_timeout_s);
  l.max_body_bytes = o.max_body_bytes;
  l.listen_backlog = o.listen_backlog;
  return l;
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
      limiter_(options_.rate_limit_per_minute, options_.shared_rate_limits),
      svr_(std::make_unique<ConnectionServer>(connection_limits(options_), [this](int status) {
        // Refused before any route: busy (503), headers too slow (408) or too large (431).
        metrics_.inc("ragd_http_requests_total", {{"endpoint", "other"}, {"status", std::to_string(status)}});
      })) {
  svr_->set_tcp_nodelay(true);
  if (options_.tls) svr_->use_tls(options_.tls);
  metrics_.counter("ragd_http_requests_total", "HTTP requests by endpoint and status code");
  metrics_.histogram("ragd_http_request_duration_seconds",
                     "HTTP request handling time (for streams: until the last byte was written)",
                     MetricsRegistry::exponential_buckets(0.001, 2.5, 14));
  if (limiter_.enabled() && limiter_.shared()) {
    metrics_.counter("ragd_rate_limit_backend_errors_total",
                     "Rate-limit checks this replica decided from its own buckets because the shared "
                     "backend (--cache redis://) could not be reached");
  }
  // Requests that never reached a route (unknown path, 413 body too large, bad framing):
  // httplib calls the error handler with the status set and no body yet.
  svr_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    // A body that failed to arrive in time or in budget reaches here as httplib's 400.
    switch (ConnectionServer::current_failure()) {
      case DeadlineStream::Failure::Timeout: res.status = 408; break;
      case DeadlineStream::Failure::BodyTooLarge: res.status = 413; break;
      default: break;
    }
    std::string message;
    switch (res.status) {
      case 404: message = "no route for " + req.method + " " + req.path + "; see docs/api.md"; break;
      case 413:
        message = "request body too large: the limit is " + std::to_string(options_.max_body_bytes) +
                  " bytes (server.max_body_bytes)";
        break;
      case 400: message = "malformed HTTP request"; break;
      case 408:
        message = fmt::format("request body not received in time: it must arrive within {} s of the headers, "
                              "with no pause over {} s",
                              options_.body_timeout_s, options_.read_timeout_s);
        break;
      default: message = "HTTP error " + std::to_string(res.status); break;
    }
    int status = res.status;
    send_json(res, status, error_body(status, message));
    metrics_.inc("ragd_http_requests_total", {{"endpoint", "other"}, {"status", std::to_string(status)}});
  });
  svr_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_json(res, 500, error_body(500, "internal error"));
  });
  // CORS (server/cors.h): every answer, errors included, carries the Access-Control-*
  // headers its Origin is allowed; OPTIONS (a browser's preflight) is answered here.
  svr_->set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    for (const auto& [name, value] : options_.cors.response_headers(req.get_header_value("Origin"))) {
      if (!res.has_header(name.c_str())) res.set_header(name, value);
    }
  });
  svr_->Options(".*", [this](const httplib::Request& req, httplib::Response& res) {
    auto p = options_.cors.preflight(req.get_header_value("Origin"), req.get_header_value("Access-Control-Request-Method"),
                                     req.get_header_value("Access-Control-Request-Headers"));
    for (const auto& [name, value] : p.headers) res.set_header(name, value);
    if (p.status == 204) {
      res.status = 204;
    } else {
      send_json(res, p.status, error_body(p.status, p.error));
    }
    metrics_.inc("ragd_http_requests_total", {{"endpoint", "OPTIONS"}, {"status", std::to_string(p.status)}});
  });
}

HttpServer::~HttpServer() { stop(); }

httplib::Server::Handler HttpServer::wrap(const std::string& endpoint, Handler handler, Scope scope) {
  return [this, endpoint, handler = std::move(handler), scope](const httplib::Request& req,
                                                               httplib::Response& res) {
    Stopwatch watch;
    RequestInfo info;
    info.client = options_.trusted_proxies.client(req.remote_addr, req.get_header_value("X-Forwarded-For"));
    const std::string id = request_id(req.get_header_value("X-Request-Id"));
    res.set_header("X-Request-Id", id);
    try {
      if (scope != Scope::Public) {
        try {
          info.key = authenticate(options_.keys, req, scope);
        } catch (const ApiError& e) {
          if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
          throw;
        }
        if (info.key) info.api_key = info.key->secret;
        bool fell_back = false;
        double wait = limiter_.acquire(info.api_key.empty() ? info.client : info.api_key,
                                       RateLimiter::Clock::now(), &fell_back);
        if (fell_back) metrics_.inc("ragd_rate_limit_backend_errors_total");
        if (wait > 0) {
          throw ApiError(429, "rate limit exceeded: " + std::to_string(options_.rate_limit_per_minute) +
                                  " requests per minute per key" + (limiter_.shared() ? " (all replicas)" : ""),
                         "", "", "rate_limit_exceeded")
              .with_retry_after(wait);
        }
      }
      handler(req, res, info);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const nlohmann::json::exception& e) {
      // A field of an unexpected type that a parser did not check: still the client's doing.
      log::warn("{} {}: {}", req.method, req.path, e.what());
      send_json(res, 400, error_body(400, "invalid JSON value types in the request"));
    } catch (const Error& e) {
      if (is_storage_error(e.what())) {
        log::error("{} {}: {}", req.method, req.path, e.what());
        send_json(res, 500, error_body(500, "internal error: the document store failed (details in the server log)"));
      } else {
        send_json(res, 400, error_body(400, redact_paths(e.what())));
      }
    } catch (const std::exception& e) {
      log::error("{} {}: {}", req.method, req.path, e.what());
      send_json(res, 500, error_body(500, "internal error (details in the server log)"));
    }
    record_when_sent(req, res, endpoint, info.client, id, watch);
  };
}

void HttpServer::record(const std::string& method, const std::string& path, const std::string& endpoint,
                        const std::string& client, const std::string& request_id, int status, double seconds,
                        bool complete) {
  metrics_.inc("ragd_http_requests_total", {{"endpoint", endpoint}, {"status", std::to_string(status)}});
  metrics_.observe("ragd_http_request_duration_seconds", {{"endpoint", endpoint}}, seconds);
  if (options_.log_requests) {
    log::info("{} {} {} {:.1f} ms {} request_id={}{}", method, path, status, seconds * 1000, client, request_id,
              complete ? "" : " (client went away mid-stream)");
  }
}

void HttpServer::record_when_sent(const httplib::Request& req, httplib::Response& res, const std::string& endpoint,
                                  const std::string& client, const std::string& request_id, Stopwatch watch) {
  // httplib sends 200 for a handler that set content but no status.
  const int status = res.status == -1 ? 200 : res.status;
  if (!res.content_provider_) {
    record(req.method, req.path, endpoint, client, request_id, status, watch.seconds(), true);
    return;
  }
  // A streamed response is written after the handler returns; httplib calls the resource
  // releaser when the Response is destroyed, after the last byte (success) or a failed
  // write.
  res.content_provider_resource_releaser_ =
      [this, inner = std::move(res.content_provider_resource_releaser_), method = req.method, path = req.path,
       endpoint, client, request_id, status, watch](bool success) {
        if (inner) inner(success);
        record(method, path, endpoint, client, request_id, status, watch.seconds(), success);
      };
}

void HttpServer::get(const std::string& pattern, const std::string& endpoint, Handler handler, Scope scope) {
  svr_->Get(pattern, wrap(endpoint, std::move(handler), scope));
}

void HttpServer::post(const std::string& pattern, const std::string& endpoint, Handler handler, Scope scope) {
  svr_->Post(pattern, wrap(endpoint, std::move(handler), scope));
}

void HttpServer::del(const std::string& pattern, const std::string& endpoint, Handler handler, Scope scope) {
  svr_->Delete(pattern, wrap(endpoint, std::move(handler), scope));
}

int HttpServer::bind() {
  errno = 0;
  if (options_.port == 0) {
    port_ = svr_->bind_to_any_port(options_.host);
  } else if (svr_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0) {
    int err = errno;
    fail("cannot listen on {}:{}: {}; is another server using the port? Pick another with --port",
         options_.host, options_.port, err ? std::strerror(err) : "bind failed");
  }
  if (!svr_->apply_backlog()) log::warn("cannot set the listen backlog to {}: {}", options_.listen_backlog, std::strerror(errno));
  return port_;
}

void HttpServer::run() { svr_->listen_after_bind(); }

void HttpServer::stop() {
  if (svr_ && svr_->is_running()) svr_->stop();
}

bool HttpServer::running() const { return svr_->is_running(); }

}  // namespace ragd::server
