#include "rag/store/store_access.h"

#include "rag/store/open_store.h"
#include "util/log.h"

namespace ragd::rag {

StoreAccess::StoreAccess(const std::filesystem::path& dir, const std::string& location)
    : dir_(dir), writer_(open_store(location, dir)) {
  // The writer first: it creates and migrates the database the reader then opens.
  reader_ = open_store(location, dir);
}

CollectionVectors* StoreAccess::vectors(const Collection& collection) {
  if (collection.embedding_dim == 0) return nullptr;
  auto& cached = vectors_[collection.name];
  if (!cached.index || cached.collection_id != collection.id) {
    cached.index = CollectionVectors::open(*reader_, collection);
    cached.collection_id = collection.id;
    ++opened_;
  } else if (cached.index->version() != collection.vector_version) {
    // != rather than <: an index ahead of the store (a restored database) must be rebuilt
    // too, which catch_up() does; one ahead of a caller's older read costs one empty query.
    auto how = cached.index->catch_up();
    ++(how == CollectionVectors::CatchUp::Incremental ? incremental_ : rebuilt_);
  }
  return cached.index.get();
}

StoreAccess::IndexUpdates StoreAccess::index_updates() const {
  return IndexUpdates{opened_.load(), incremental_.load(), rebuilt_.load()};
}

size_t StoreAccess::persist_indexes() {
  std::lock_guard lock(read_mu_);
  size_t written = 0;
  for (auto& [name, cached] : vectors_) {
    if (!cached.index) continue;
    try {
      if (cached.index->persist_changes()) {
        ++written;
        log::info("vector index of '{}' saved ({} vectors)", name, cached.index->size());
      }
    } catch (const std::exception& e) {
      log::warn("vector index of '{}' not saved, it will be rebuilt next time: {}", name, e.what());
    }
  }
  return written;
}

void StoreAccess::forget(const std::string& collection) {
  std::lock_guard lock(read_mu_);
  vectors_.erase(collection);
}

}  // namespace ragd::rag
