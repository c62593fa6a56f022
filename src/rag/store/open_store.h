// Picks the store backend from a --store location (data.store in the YAML config):
//   "sqlite" (or empty)             SqliteStore in `dir` (DIR/ragd.db), the default
//   "postgres://…", "postgresql://…"  PostgresStore at that libpq URI; `dir` then only
//                                   holds this replica's persisted vector indexes, under
//                                   DIR/postgres-<hash of the URI>
// Anything else is a ragd::Error naming the accepted forms.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "rag/store/store.h"

namespace ragd::rag {

bool is_postgres_location(const std::string& location);
// Throws for a location open_store() would refuse, without connecting.
void validate_store_location(const std::string& location);

std::unique_ptr<Store> open_store(const std::string& location, const std::filesystem::path& dir);

// Whether a store already exists there (SQLite: DIR/ragd.db; PostgreSQL: always true, the
// database is the server's). Searching must not create empty stores as a side effect.
bool store_exists(const std::string& location, const std::filesystem::path& dir);

}  // namespace ragd::rag
