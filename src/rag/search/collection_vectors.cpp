#include "rag/search/collection_vectors.h"

#include <fstream>
#include <mutex>

#include "rag/ingest/content_hash.h"
#include "rag/search/hnsw_index.h"
#include "util/durable_file.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::rag {
namespace {

constexpr int kSidecarFormat = 1;

std::filesystem::path sidecar_path(const std::filesystem::path& index_file) {
  auto p = index_file;
  p += ".json";
  return p;
}

std::string file_hash(const std::filesystem::path& file) {
  ContentHasher h;
  h.update_file(file);
  return h.hex();
}

const char* metric_name(Metric m) { return m == Metric::Cosine ? "cosine" : "ip"; }

// Adds vectors to an index in blocks, so that HNSW inserts each block with several threads
// while the memory held for pending rows stays bounded.
class BlockAdder {
 public:
  explicit BlockAdder(VectorIndex& index) : index_(index) {}
  void add(int64_t id, std::span<const float> v) {
    ids_.push_back(id);
    rows_.insert(rows_.end(), v.begin(), v.end());
    if (ids_.size() == kBlock) flush();
  }
  void flush() {
    if (!ids_.empty()) index_.add_batch(ids_, rows_);
    ids_.clear();
    rows_.clear();
  }

 private:
  static constexpr size_t kBlock = 8192;
  VectorIndex& index_;
  std::vector<int64_t> ids_;
  std::vector<float> rows_;
};

}  // namespace

std::filesystem::path CollectionVectors::index_path(const std::filesystem::path& store_dir,
                                                    const std::string& collection) {
  return store_dir / "vectors" / (collection + ".hnsw");
}

std::unique_ptr<CollectionVectors> CollectionVectors::open(Store& store,
                                                           const Collection& collection,
                                                           const VectorIndexConfig& config) {
  if (config.kind != "auto" && config.kind != "exact" && config.kind != "hnsw") {
    fail("unknown vector index '{}' (use auto, exact or hnsw)", config.kind);
  }
  // Re-read: the caller's copy may predate the first embedding.
  Collection current = store.find_collection(collection.name).value_or(collection);
  std::unique_ptr<CollectionVectors> cv(new CollectionVectors(store, current, config));
  cv->version_ = current.vector_version;
  if (current.embedding_dim == 0) return cv;  // nothing embedded yet
  EmbeddingState state = store.embedding_state(current.id);
  if (cv->choose_kind(state.count) == "hnsw" && cv->try_load(state)) {
    // Loaded as of an older version: the change log brings it up to date (or it rebuilds).
    if (cv->version_ != state.version) cv->catch_up();
    return cv;
  }
  cv->rebuild(state);
  return cv;
}

std::string CollectionVectors::choose_kind(int64_t count) const {
  if (config_.kind != "auto") return config_.kind;
  return count < static_cast<int64_t>(config_.exact_threshold) ? "exact" : "hnsw";
}

bool CollectionVectors::try_load(const EmbeddingState& state) {
  auto file = index_path(store_.dir(), collection_.name);
  if (!std::filesystem::exists(file)) {
    log::info("vector index {} missing; building it from the store", file.string());
    rebuilt_ = true;
    return false;
  }
  std::string reason;
  try {
    std::ifstream in(sidecar_path(file));
    auto meta = nlohmann::json::parse(in);
    const auto& h = config_.hnsw;
    bool same_build = meta.at("format") == kSidecarFormat &&
                      meta.at("dim") == collection_.embedding_dim &&
                      meta.at("metric") == metric_name(config_.metric) && meta.at("m") == h.m &&
                      meta.at("ef_construction") == h.ef_construction;
    const int64_t saved_version = meta.at("vector_version").get<int64_t>();
    bool same_data = meta.at("count") == state.count &&
                     meta.at("id_checksum") == state.id_checksum && saved_version == state.version;
    // A file stamped with an older version of this very collection (its id: a re-created
    // one starts a new log) and model holds exactly the vectors as of that version, so
    // catch_up() can bring it forward from the change log instead of a rebuild.
    bool older_same_collection = saved_version < state.version && meta.contains("collection_id") &&
                                 meta.at("collection_id") == collection_.id &&
                                 meta.at("model") == collection_.embedding_model;
    if (!same_build) reason = "built with other parameters";
    else if (!same_data && !older_same_collection) reason = "stale (the store's embeddings changed)";
    else if (meta.at("file_hash") != file_hash(file)) reason = "corrupt (checksum mismatch)";
    if (reason.empty()) {
      index_ = HnswIndex::load(file, collection_.embedding_dim, config_.metric, config_.hnsw);
      version_ = saved_version;
      return true;
    }
  } catch (const std::exception& e) {
    reason = fmt::format("unreadable ({})", e.what());
  }
  log::info("vector index {} is {}; rebuilding it from the store", file.string(), reason);
  rebuilt_ = true;
  return false;
}

std::unique_ptr<VectorIndex> CollectionVectors::build(const EmbeddingState& state) const {
  std::string kind = choose_kind(state.count);
  std::unique_ptr<VectorIndex> index;
  if (kind == "hnsw") {
    index = std::make_unique<HnswIndex>(collection_.embedding_dim, config_.metric, config_.hnsw,
                                        static_cast<size_t>(state.count));
  } else {
    index = make_vector_index(kind, collection_.embedding_dim, config_.metric, config_.hnsw);
  }
  BlockAdder adder(*index);
  store_.for_each_embedding(collection_.id, [&](int64_t id, std::span<const float> v) {
    if (v.size() != collection_.embedding_dim) {
      fail("embedding of chunk {} has {} dimensions, collection '{}' has {}", id, v.size(),
           collection_.name, collection_.embedding_dim);
    }
    adder.add(id, v);
  });
  adder.flush();
  return index;
}

void CollectionVectors::rebuild(const EmbeddingState& state) {
  // state.version was read before the vectors: the index holds at least what it says.
  auto index = build(state);
  {
    std::unique_lock lock(mutex_);
    index_ = std::move(index);
    version_ = state.version;
    unsaved_changes_ = true;
  }
  // The saved copy only spares the next open a rebuild: failing to write it (a full disk)
  // must not fail the search or ingest that needed the index, which is complete in memory.
  // A failed save leaves the previous pair, which the next open replays from the change log
  // (an older stamp of the same collection) or rebuilds.
  try {
    // Stamped with `state`, read before the vectors: a write landing during the build is
    // then after the stamp, and the next open replays it from the log rather than trusting
    // a stamp that claims it.
    std::shared_lock lock(mutex_);
    if (dynamic_cast<HnswIndex*>(index_.get())) write_files(state);
  } catch (const std::exception& e) {  // ragd::Error, or filesystem_error from the directory
    log::warn("vector index of '{}' not saved, it will be rebuilt next time: {}",
              collection_.name, e.what());
  }
}

int64_t CollectionVectors::version() const {
  std::shared_lock lock(mutex_);
  return version_;
}

CollectionVectors::CatchUp CollectionVectors::catch_up() {
  {
    std::unique_lock lock(mutex_);
    if (index_) {
      // Each chunk comes once, so removals and additions need no ordering between them.
      BlockAdder adder(*index_);
      VectorChangeSet set = store_.vector_changes_since(
          collection_, version_, [&](int64_t id, std::span<const float> v) {
            if (v.empty()) {
              index_->remove(id);
              return;
            }
            adder.add(id, v);
          });
      if (set.complete) {
        adder.flush();
        log::debug("vector index of '{}' caught up from version {} to {} ({} changed vectors)",
                   collection_.name, version_, set.version, set.changes);
        version_ = set.version;
        collection_.vector_version = set.version;
        if (set.changes > 0) unsaved_changes_ = true;
        // An exact index that grew past the threshold becomes HNSW, as open() would make it
        // (not the reverse: a collection shrinking below it keeps its graph until reopened,
        // so one hovering at the threshold is not rebuilt on every change).
        const bool outgrown = std::string(index_->kind()) == "exact" &&
                              choose_kind(static_cast<int64_t>(index_->size())) == "hnsw";
        if (!outgrown) return CatchUp::Incremental;
        set.reason = fmt::format("{} vectors outgrew the exact index", index_->size());
      }
      log::info("vector index of '{}' rebuilt from the store: {}", collection_.name, set.reason);
    }
  }
  // A rebuild reads everything without holding the lock (searches go on with the old index
  // until the new one replaces it), then saves.
  auto current = store_.find_collection(collection_.name);
  {
    std::unique_lock lock(mutex_);
    if (current && current->id == collection_.id) collection_ = *current;
    rebuilt_ = true;
  }
  if (collection_.embedding_dim == 0) return CatchUp::Rebuilt;
  rebuild(store_.embedding_state(collection_.id));
  return CatchUp::Rebuilt;
}

std::string CollectionVectors::kind() const {
  std::shared_lock lock(mutex_);
  return index_ ? index_->kind() : "none";
}

size_t CollectionVectors::size() const {
  std::shared_lock lock(mutex_);
  return index_ ? index_->size() : 0;
}

void CollectionVectors::upsert(Collection& collection, int64_t chunk_id,
                               std::span<const float> vector, const std::string& model) {
  std::unique_lock lock(mutex_);
  store_.put_embedding(collection, chunk_id, vector, model);
  collection_ = collection;
  if (!index_) {
    index_ = make_vector_index(choose_kind(1), vector.size(), config_.metric, config_.hnsw);
  }
  index_->add(chunk_id, vector);
  unsaved_changes_ = true;
}

void CollectionVectors::remove(int64_t chunk_id) {
  std::unique_lock lock(mutex_);
  if (index_ && index_->remove(chunk_id)) unsaved_changes_ = true;
}

void CollectionVectors::save() {
  std::shared_lock lock(mutex_);
  if (!dynamic_cast<HnswIndex*>(index_.get())) return;
  write_files(store_.embedding_state(collection_.id));
}

bool CollectionVectors::persist_changes() {
  std::shared_lock lock(mutex_);
  if (!unsaved_changes_ || !dynamic_cast<HnswIndex*>(index_.get())) return false;
  // Read once and used for both the check and the stamp: a write landing after this read
  // leaves the file stamped with the older version, which the next open detects.
  EmbeddingState state = store_.embedding_state(collection_.id);
  if (state.version != version_) return false;
  write_files(state);
  return true;
}

void CollectionVectors::write_files(const EmbeddingState& state) {
  auto* hnsw = dynamic_cast<HnswIndex*>(index_.get());
  auto file = index_path(store_.dir(), collection_.name);
  std::filesystem::create_directories(file.parent_path());
  hnsw->save(file);
  nlohmann::json meta = {
      {"format", kSidecarFormat},        {"dim", collection_.embedding_dim},
      {"metric", metric_name(config_.metric)}, {"m", config_.hnsw.m},
      {"ef_construction", config_.hnsw.ef_construction},
      {"count", state.count},            {"id_checksum", state.id_checksum},
      {"vector_version", state.version}, {"model", collection_.embedding_model},
      {"collection_id", collection_.id},
      {"file_hash", file_hash(file)}};
  // Written after the index file: a crash between the two leaves a sidecar whose file_hash
  // does not match, and open() rebuilds.
  write_file_durably(sidecar_path(file), meta.dump(2) + "\n");
  unsaved_changes_ = false;
}

std::vector<VectorHit> CollectionVectors::search(std::span<const float> query, size_t k,
                                                 const IdFilter& filter) const {
  std::shared_lock lock(mutex_);
  if (!index_) return {};
  return index_->search(query, k, filter);
}

}  // namespace ragd::rag
