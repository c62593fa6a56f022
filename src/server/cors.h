// Cross-origin resource sharing for `ragd serve`: which browser origins other than the
// server's own may call the API (server.cors_origins, --cors-origin; none by default).
//
// Invariants: a response carries Access-Control-Allow-Origin only for a request whose
// Origin is allowed, and then names that origin exactly (or "*" when every origin is
// allowed), so a page from another origin can read nothing unless the operator listed it.
// Authentication is unchanged: a cross-origin caller still sends its API key, CORS only
// lets the browser show it the answer. Credentials (cookies) are never allowed; ragd uses
// bearer keys.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ragd::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class CorsPolicy {
 public:
  CorsPolicy() = default;
  // Each entry is "*" or an origin "scheme://host[:port]" (http or https, no path, no
  // trailing slash); a trailing slash is dropped. Throws ragd::Error naming a bad entry.
  explicit CorsPolicy(const std::vector<std::string>& origins);

  bool enabled() const { return any_ || !origins_.empty(); }
  bool allows(const std::string& origin) const;

  // Headers to add to an ordinary response for a request with this Origin header ("" when
  // it had none): empty unless the origin is allowed.
  HeaderList response_headers(const std::string& origin) const;

  struct Preflight {
    int status = 204;    // 204, or 403 for an origin that is not allowed
    HeaderList headers;  // Access-Control-* for an allowed origin, else only Allow
    std::string error;   // why a 403 was given
  };
  // The answer to an OPTIONS request. `requested_method` and `requested_headers` are the
  // Access-Control-Request-Method / -Headers values ("" when absent).
  Preflight preflight(const std::string& origin, const std::string& requested_method,
                      const std::string& requested_headers) const;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;  // normalised: lower-case scheme and host
};

// "Https://Example.COM:8443/" -> "https://example.com:8443"; "" when not a valid origin.
std::string normalize_origin(const std::string& origin);

}  // namespace ragd::server
