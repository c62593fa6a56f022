#include "server/cors.h"

#include <algorithm>
#include <cctype>

#include "util/error.h"

namespace ragd::server {
namespace {

constexpr const char* kMethods = "GET, POST, DELETE, OPTIONS";
constexpr const char* kHeaders = "Authorization, Content-Type, X-API-Key";
// Headers a browser may read besides the CORS-safelisted ones: the ingestion job's URL
// (202 Accepted) and how long to wait after 429/503.
constexpr const char* kExposed = "Location, Retry-After, X-Request-Id";
constexpr const char* kMaxAge = "600";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool header_allowed(const std::string& name) {
  static const char* const kAllowed[] = {"authorization", "content-type", "x-api-key",
                                         // CORS-safelisted request headers need no permission.
                                         "accept", "accept-language", "content-language"};
  const std::string n = lower(name);
  return std::any_of(std::begin(kAllowed), std::end(kAllowed), [&](const char* a) { return n == a; });
}

}  // namespace

std::string normalize_origin(const std::string& origin) {
  std::string o = lower(trim(origin));
  if (!o.empty() && o.back() == '/') o.pop_back();
  size_t sep = o.find("://");
  if (sep == std::string::npos) return "";
  const std::string scheme = o.substr(0, sep), rest = o.substr(sep + 3);
  if (scheme != "http" && scheme != "https") return "";
  if (rest.empty()) return "";
  size_t colon = rest.rfind(':');
  // "[::1]:8080": the port colon follows the closing bracket.
  if (colon != std::string::npos && rest.find(']') != std::string::npos && colon < rest.find(']')) colon = std::string::npos;
  const std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (host.empty()) return "";
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '[' || c == ']' || c == ':')) return "";
  }
  if (colon != std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) || std::stoi(port) > 65535) {
      return "";
    }
  }
  return o;
}

CorsPolicy::CorsPolicy(const std::vector<std::string>& origins) {
  for (const auto& raw : origins) {
    const std::string entry = trim(raw);
    if (entry.empty()) continue;
    if (entry == "*") {
      any_ = true;
      continue;
    }
    std::string o = normalize_origin(entry);
    if (o.empty()) {
      fail("server.cors_origins: '{}' is not an origin; write scheme://host[:port] (e.g. http://localhost:5173) or *",
           entry);
    }
    if (std::find(origins_.begin(), origins_.end(), o) == origins_.end()) origins_.push_back(o);
  }
}

bool CorsPolicy::allows(const std::string& origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  const std::string o = normalize_origin(origin);
  return !o.empty() && std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

HeaderList CorsPolicy::response_headers(const std::string& origin) const {
  HeaderList h;
  if (!enabled()) return h;
  // Caches must not serve one origin's answer to another (the header depends on Origin).
  if (!any_) h.emplace_back("Vary", "Origin");
  if (!allows(origin)) return h;
  h.emplace_back("Access-Control-Allow-Origin", any_ ? "*" : origin);
  h.emplace_back("Access-Control-Expose-Headers", kExposed);
  return h;
}

CorsPolicy::Preflight CorsPolicy::preflight(const std::string& origin, const std::string& requested_method,
                                            const std::string& requested_headers) const {
  Preflight p;
  p.headers.emplace_back("Allow", kMethods);
  if (origin.empty()) return p;  // a plain OPTIONS, not a browser's preflight
  if (!allows(origin)) {
    p.status = 403;
    p.error = "origin '" + origin + "' may not call this API from a browser; the server allows " +
              (enabled() ? "only the origins in server.cors_origins" : "no other origins (set --cors-origin)");
    return p;
  }
  if (!requested_method.empty() && requested_method != "GET" && requested_method != "POST" &&
      requested_method != "DELETE" && requested_method != "HEAD") {
    p.status = 403;
    p.error = "method '" + requested_method + "' is not served (allowed: " + kMethods + ")";
    return p;
  }
  size_t start = 0;
  while (start <= requested_headers.size()) {
    size_t comma = requested_headers.find(',', start);
    if (comma == std::string::npos) comma = requested_headers.size();
    const std::string name = trim(requested_headers.substr(start, comma - start));
    if (!name.empty() && !header_allowed(name)) {
      p.status = 403;
      p.error = "request header '" + name + "' is not allowed (allowed: " + kHeaders + ")";
      return p;
    }
    start = comma + 1;
  }
  auto h = response_headers(origin);
  p.headers.insert(p.headers.end(), h.begin(), h.end());
  p.headers.emplace_back("Access-Control-Allow-Methods", kMethods);
  p.headers.emplace_back("Access-Control-Allow-Headers", kHeaders);
  p.headers.emplace_back("Access-Control-Max-Age", kMaxAge);
  return p;
}

}  // namespace ragd::server
