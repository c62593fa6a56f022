#include "util/kv_cache.h"

#include <charconv>

#include "util/error.h"

namespace ragd {
namespace {

int parse_number(std::string_view text, int lo, int hi, std::string_view what, std::string_view url) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    fail("cache URL '{}': {} must be a number from {} to {}, not '{}'", url, what, lo, hi, text);
  }
  return v;
}

}  // namespace

CacheUrl CacheUrl::parse(std::string_view url) {
  CacheUrl out;
  if (url.empty() || url == "memory") return out;
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    fail("cache URL '{}' is not supported: use 'memory' or redis://host:port[/db]", url);
  }
  out.kind = Kind::Redis;
  std::string_view rest = url.substr(kScheme.size());
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    out.db = parse_number(rest.substr(slash + 1), 0, 65535, "the database number", url);
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos) {
    fail("cache URL '{}': credentials in the URL are not supported", url);
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    out.port = parse_number(rest.substr(colon + 1), 1, 65535, "the port", url);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) fail("cache URL '{}' has no host", url);
  out.host = std::string(rest);
  return out;
}

std::string CacheUrl::str() const {
  if (kind == Kind::Memory) return "memory";
  return "redis://" + host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

}  // namespace ragd
