#include "rag/store/store_access.h"

#include "rag/store/open_store.h"

namespace ragd::rag {

StoreAccess::StoreAccess(const std::filesystem::path& dir, const std::string& location)
    : dir_(dir), writer_(open_store(location, dir)) {
  // The writer first: it creates and migrates the database the reader then opens.
  reader_ = open_store(location, dir);
}

CollectionVectors* StoreAccess::vectors(const Collection& collection) {
  if (collection.embedding_dim == 0) return nullptr;
  auto& cached = vectors_[collection.name];
  if (!cached.index || cached.collection_id != collection.id ||
      cached.vector_version != collection.vector_version) {
    cached.index = CollectionVectors::open(*reader_, collection);
    cached.collection_id = collection.id;
    cached.vector_version = collection.vector_version;
  }
  return cached.index.get();
}

void StoreAccess::forget(const std::string& collection) {
  std::lock_guard lock(read_mu_);
  vectors_.erase(collection);
}

}  // namespace ragd::rag
