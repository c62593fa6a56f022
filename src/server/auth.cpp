#include "server/auth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "server/api_error.h"
#include "util/error.h"

namespace ragd::server {
namespace {

// Compares every byte of `presented` whatever the outcome, so the time taken depends only
// on the presented length. `secret` is never empty (KeyRing::add refuses empty keys).
bool same_secret(std::string_view presented, std::string_view secret) {
  unsigned char diff = presented.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ secret[i % secret.size()]);
  }
  return diff == 0;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, separator)) out.push_back(item);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// One key-file line (already known not to be blank or a comment). Error messages never
// quote the line: its first word is a secret.
ApiKey parse_key_line(const std::string& line, const std::string& origin) {
  auto fields = words(line);
  ApiKey key;
  key.secret = fields[0];
  key.origin = origin;
  bool scope_given = false;
  constexpr const char* kFormat = "(format: KEY [admin|query] [collections=NAME,NAME...])";
  for (size_t i = 1; i < fields.size(); ++i) {
    std::string field = fields[i];
    if (field.rfind("scope=", 0) == 0) field = field.substr(6);
    if (auto scope = parse_key_scope(field)) {
      if (scope_given) fail("{}: the scope is given twice {}", origin, kFormat);
      key.scope = *scope;
      scope_given = true;
    } else if (field.rfind("collections=", 0) == 0) {
      if (!key.collections.empty()) fail("{}: collections= is given twice {}", origin, kFormat);
      for (const auto& name : split(field.substr(12), ',')) {
        if (name.empty()) fail("{}: an empty collection name in collections= {}", origin, kFormat);
        key.collections.push_back(name);
      }
      if (key.collections.empty()) fail("{}: collections= names no collection {}", origin, kFormat);
    } else {
      fail("{}: field {} is neither a scope (admin, query) nor collections=... {}", origin, i + 1, kFormat);
    }
  }
  return key;
}

}  // namespace

const char* scope_name(Scope scope) {
  switch (scope) {
    case Scope::Public: return "public";
    case Scope::Query: return "query";
    case Scope::Admin: return "admin";
  }
  return "?";
}

std::optional<Scope> parse_key_scope(std::string_view name) {
  if (name == "admin") return Scope::Admin;
  if (name == "query") return Scope::Query;
  return std::nullopt;
}

bool ApiKey::allows_collection(const std::string& collection) const {
  return collections.empty() || std::find(collections.begin(), collections.end(), collection) != collections.end();
}

void KeyRing::add(ApiKey key) {
  if (key.secret.empty()) fail("{}: an API key must not be empty", key.origin);
  for (char c : key.secret) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      fail("{}: an API key must not contain spaces or control characters", key.origin);
    }
  }
  if (key.scope == Scope::Public) fail("{}: an API key's scope must be admin or query", key.origin);
  for (const auto& k : keys_) {
    if (k.secret == key.secret) fail("{}: the same API key is also configured at {}", key.origin, k.origin);
  }
  keys_.push_back(std::move(key));
}

void KeyRing::load_text(const std::string& text, const std::string& origin) {
  size_t line_no = 0;
  for (const auto& raw : split(text, '\n')) {
    ++line_no;
    std::string line = raw;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    add(parse_key_line(line, fmt::format("{}:{}", origin, line_no)));
  }
}

void KeyRing::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read the API key file '{}'", path);
  std::ostringstream text;
  text << in.rdbuf();
  const size_t before = keys_.size();
  load_text(text.str(), path);
  if (keys_.size() == before) fail("the API key file '{}' holds no key (format: KEY [admin|query] [collections=...])", path);
}

const ApiKey* KeyRing::find(std::string_view presented) const {
  const ApiKey* found = nullptr;
  for (const auto& k : keys_) {
    if (same_secret(presented, k.secret)) found = &k;
  }
  return found;
}

std::string presented_key(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() > kBearer.size() && std::equal(kBearer.begin(), kBearer.end(), auth.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      })) {
    return auth.substr(kBearer.size());
  }
  return req.get_header_value("X-API-Key");
}

const ApiKey* authenticate(const KeyRing& keys, const httplib::Request& req, Scope required) {
  if (required == Scope::Public || keys.empty()) return nullptr;
  const std::string presented = presented_key(req);
  const ApiKey* key = presented.empty() ? nullptr : keys.find(presented);
  if (!key) {
    throw ApiError(401,
                   "missing or invalid API key: send 'Authorization: Bearer KEY' (keys are set with --api-key, "
                   "--api-key-file or server.api_keys)",
                   "", "", "invalid_api_key");
  }
  if (!key->allows(required)) {
    throw ApiError(403,
                   fmt::format("this API key has scope '{}'; {} {} needs an '{}' key (model, cache, collection "
                               "and document administration)",
                               scope_name(key->scope), req.method, req.path, scope_name(required)),
                   "", "", "insufficient_scope");
  }
  require_collection(key, path_collection(req.path));
  return key;
}

void require_collection(const ApiKey* key, const std::string& collection) {
  if (!key || collection.empty() || key->allows_collection(collection)) return;
  throw ApiError(403,
                 fmt::format("this API key may not use collection '{}'; it is limited to: {}", collection,
                             fmt::join(key->collections, ", ")),
                 "", "collection", "collection_forbidden");
}

std::string path_collection(const std::string& path) {
  constexpr std::string_view kPrefix = "/v1/collections/";
  if (path.size() <= kPrefix.size() || path.compare(0, kPrefix.size(), kPrefix) != 0) return "";
  const size_t end = path.find('/', kPrefix.size());
  return path.substr(kPrefix.size(), end == std::string::npos ? std::string::npos : end - kPrefix.size());
}

}  // namespace ragd::server
