#include "rag/store/open_store.h"

#include <fmt/format.h>

#include "rag/store/postgres_store.h"
#include "rag/store/sqlite_store.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

bool is_sqlite_location(const std::string& location) { return location.empty() || location == "sqlite"; }

// FNV-1a: a stable short name for the URI's cache directory.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace

bool is_postgres_location(const std::string& location) {
  return location.starts_with("postgres://") || location.starts_with("postgresql://");
}

void validate_store_location(const std::string& location) {
  if (is_sqlite_location(location) || is_postgres_location(location)) return;
  fail("unknown store '{}': use sqlite (the default, in --db) or postgres://USER@HOST:PORT/DB",
       redact_postgres_uri(location));
}

std::unique_ptr<Store> open_store(const std::string& location, const std::filesystem::path& dir) {
  validate_store_location(location);
  if (is_sqlite_location(location)) return SqliteStore::open(dir);
  // The cache directory is keyed on the URI without its password, so that two databases
  // never share vector index files (their sidecars would only make them rebuild).
  auto cache = dir / fmt::format("postgres-{:016x}", fnv1a(redact_postgres_uri(location)));
  return PostgresStore::open(location, cache);
}

bool store_exists(const std::string& location, const std::filesystem::path& dir) {
  validate_store_location(location);
  if (is_postgres_location(location)) return true;
  return std::filesystem::exists(dir / SqliteStore::kDbFileName);
}

}  // namespace ragd::rag
