// Options shared by the retrieval commands (ingest, search, collections, eval): where the
// store lives and which collection to use.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "rag/store.h"

namespace ragd::app {

struct StoreLocation {
  std::string db_dir;  // filled with default_data_dir() by add_store_options
  std::string collection = "default";
};

// $RAGD_DATA_DIR if set and non-empty, else ./data.
std::string default_data_dir();

// Adds --db and (unless with_collection is false) --collection.
void add_store_options(CLI::App* sub, StoreLocation& where, bool with_collection = true);

// Opens the store. With must_exist, a directory without a database is a ragd::Error that
// says to ingest first (searching must not create empty stores as a side effect).
std::unique_ptr<rag::Store> open_store(const StoreLocation& where, bool must_exist);

}  // namespace ragd::app
