#include "engine/upstream_endpoint.h"

#include <cctype>

#include "util/error.h"

namespace ragd::engine {

bool is_upstream_url(std::string_view value) {
  return value.rfind("http://", 0) == 0 || value.rfind("https://", 0) == 0;
}

UpstreamEndpoint parse_upstream_endpoint(const std::string& value) {
  auto bad = [&](const char* why) {
    fail("bad upstream URL '{}': {} (expected http://HOST[:PORT][/PATH][#MODEL-ID], e.g. http://127.0.0.1:8000/v1)",
         value, why);
  };
  if (!is_upstream_url(value)) bad("the scheme must be http or https");
  UpstreamEndpoint e;
  std::string url = value;
  const size_t hash = url.find('#');
  if (hash != std::string::npos) {
    e.model_id = url.substr(hash + 1);
    if (e.model_id.empty()) bad("'#' must be followed by the upstream's model id");
    url.resize(hash);
  }
  if (url.find_first_of("?") != std::string::npos) bad("a query string is not allowed");
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const std::string hostport = url.substr(authority, slash == std::string::npos ? std::string::npos : slash - authority);
  if (hostport.find('@') != std::string::npos) bad("credentials in the URL are not supported");
  // The port follows the last ':' unless that is inside an IPv6 literal ("[::1]").
  const size_t bracket = hostport.rfind(']');
  const size_t colon = hostport.rfind(':');
  std::string host = hostport;
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    const std::string port = hostport.substr(colon + 1);
    host = hostport.substr(0, colon);
    if (port.empty() || port.size() > 5) bad("the port must be a number from 1 to 65535");
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) bad("the port must be a number from 1 to 65535");
    }
    const int n = std::stoi(port);
    if (n < 1 || n > 65535) bad("the port must be a number from 1 to 65535");
  }
  if (host.empty() || host == "[]") bad("the host is missing");
  e.origin = url.substr(0, slash == std::string::npos ? url.size() : slash);
  e.base_path = slash == std::string::npos ? "" : url.substr(slash);
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  e.url = e.origin + e.base_path;
  return e;
}

}  // namespace ragd::engine
