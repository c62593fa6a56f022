#include "rag/store/store.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cstring>

#include "util/error.h"
#include "util/log.h"

namespace ragd::rag {

int64_t Store::now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Store::decode_vector(int64_t chunk_id, std::span<const std::byte> blob, size_t dim, std::vector<float>& out) {
  const bool ok = dim == 0 ? blob.size() % sizeof(float) == 0 : blob.size() == dim * sizeof(float);
  if (!ok) fail("corrupt embedding for chunk {} ({} bytes)", chunk_id, blob.size());
  out.resize(blob.size() / sizeof(float));
  std::memcpy(out.data(), blob.data(), blob.size());
}

std::string Store::vector_log_gap(const Collection& wanted, std::string_view stored_model, size_t stored_dim,
                                  int64_t version, int64_t store_version, int64_t log_floor) {
  if (stored_model != wanted.embedding_model || stored_dim != wanted.embedding_dim) {
    return "its embedding model or dimension changed";
  }
  if (version > store_version) {
    return fmt::format("the index is at vector version {}, ahead of the store's {}", version, store_version);
  }
  if (version < log_floor) {
    return fmt::format("the change log was pruned up to version {}, the index is at {}", log_floor, version);
  }
  return "";
}

void Store::validate_collection_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    fail("invalid collection name '{}': use 1-64 letters, digits, '_', '-' or '.', not "
         "starting with '.'",
         name);
  }
}

Collection Store::require_collection(const std::string& name) {
  if (auto c = find_collection(name)) return *c;
  std::string names;
  for (const auto& c : list_collections()) names += (names.empty() ? "" : ", ") + c.name;
  if (names.empty()) {
    fail("collection '{}' does not exist in {}: the store is empty; run 'ragd ingest' first",
         name, describe());
  }
  fail("collection '{}' does not exist in {} (collections: {})", name, describe(), names);
}

StoreTransaction::~StoreTransaction() {
  if (done_) return;
  try {
    store_.rollback();
  } catch (const std::exception& e) {
    // A destructor must not throw; the backend discards the transaction when the
    // connection fails, so nothing half-done can become visible.
    log::warn("store rollback failed: {}", e.what());
  }
}

void StoreTransaction::commit() {
  store_.commit();
  done_ = true;
}

}  // namespace ragd::rag
