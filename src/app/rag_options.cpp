#include "app/rag_options.h"

#include <cstdlib>
#include <filesystem>

#include "util/error.h"

namespace ragd::app {

std::string default_data_dir() {
  const char* env = std::getenv("RAGD_DATA_DIR");
  return env && *env ? env : "data";
}

void add_store_options(CLI::App* sub, StoreLocation& where, bool with_collection) {
  where.db_dir = default_data_dir();
  sub->add_option("--db", where.db_dir, "Data directory holding the store ($RAGD_DATA_DIR or ./data)")
      ->capture_default_str();
  if (with_collection) {
    sub->add_option("--collection", where.collection, "Collection name")->capture_default_str();
  }
}

std::unique_ptr<rag::Store> open_store(const StoreLocation& where, bool must_exist) {
  if (must_exist && !std::filesystem::exists(std::filesystem::path(where.db_dir) / rag::Store::kDbFileName)) {
    fail("no ragd store in '{}': run 'ragd ingest PATH --db {}' first (or set --db / "
         "RAGD_DATA_DIR)",
         where.db_dir, where.db_dir);
  }
  return rag::Store::open(where.db_dir);
}

}  // namespace ragd::app
