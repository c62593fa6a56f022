// Auth: API keys with scopes and collection limits, for `ragd serve`.
//
// A key has a scope and, optionally, the collections it may name:
//   admin  everything: model load/unload, cache save/clear, collection create/delete,
//          document upload/delete, and all that a query key may do;
//   query  asking, searching, chat, completions, embeddings, and reading (model,
//          collection and document listings, ingest jobs, /metrics).
// A key limited to collections gets 403 for any request naming another collection: in
// the path (/v1/collections/NAME/...) or in the body (`collection` of a RAG query).
//
// Each route states the scope it needs where it is registered (HttpServer::get/post/del);
// Scope::Public routes (health and readiness probes) need no key. With no key configured,
// authentication is off and every route is open.
//
// Secrets are never echoed: messages name a key by where it was configured ("keys.txt:3",
// "--api-key #1"), never by its value, and a presented key is never repeated back.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::server {

// Ordered: a key of one scope may call the routes of every lower scope.
enum class Scope { Public, Query, Admin };

const char* scope_name(Scope scope);
// "admin" or "query" (the scopes a key can have); nullopt otherwise.
std::optional<Scope> parse_key_scope(std::string_view name);

struct ApiKey {
  std::string secret;
  Scope scope = Scope::Admin;
  std::vector<std::string> collections;  // empty: every collection
  std::string origin;                    // where it was configured; names it in messages

  bool allows(Scope required) const { return scope >= required; }
  bool allows_collection(const std::string& collection) const;
};

// The configured keys. Filled before the server starts and read-only afterwards, so the
// ApiKey pointers it hands out stay valid for the server's life.
class KeyRing {
 public:
  // Throws ragd::Error (naming key.origin, never the secret) for an empty key, one with
  // whitespace or control characters, a Query/Admin scope missing, or a duplicate.
  void add(ApiKey key);
  // Key file format, one key per line; blank lines and lines starting with '#' are skipped:
  //   KEY [SCOPE] [collections=NAME,NAME...]
  // SCOPE is admin (the default) or query. Throws ragd::Error naming FILE:LINE.
  void load_file(const std::string& path);
  void load_text(const std::string& text, const std::string& origin);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  // The key whose secret equals `presented`, or nullptr. Every configured key is compared
  // in full with a constant-time comparison, so timing reveals neither which key nor how
  // much of one matched.
  const ApiKey* find(std::string_view presented) const;

 private:
  std::vector<ApiKey> keys_;
};

// The key a request presents: "Authorization: Bearer KEY", else "X-API-Key: KEY"; "" if none.
std::string presented_key(const httplib::Request& req);

// Decides whether a request may call a route that needs `required`, throwing ApiError
// 401 (no key, or not a configured one) or 403 (the key's scope is too low, or the path
// names a collection the key is not allowed). Returns the key, or nullptr when no key is
// needed (authentication off, or a public route).
const ApiKey* authenticate(const KeyRing& keys, const httplib::Request& req, Scope required);

// Throws ApiError 403 when `key` is limited to other collections; no-op for nullptr.
void require_collection(const ApiKey* key, const std::string& collection);

// The collection a request path names: "/v1/collections/NAME" or "/v1/collections/NAME/...";
// "" for any other path.
std::string path_collection(const std::string& path);

}  // namespace ragd::server
