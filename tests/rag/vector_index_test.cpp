#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <set>

#include "rag/store/sqlite_store.h"
#include "rag/search/collection_vectors.h"
#include "rag/search/exact_index.h"
#include "rag/search/hnsw_index.h"
#include "rag/ingest/temp_dir.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

std::vector<std::vector<float>> random_vectors(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out) {
    for (auto& x : v) x = normal(rng);
  }
  return out;
}

TEST(ExactIndex, RanksByCosineAndSupportsReplaceRemoveAndFilters) {
  ExactIndex index(2, Metric::Cosine);
  index.add(1, std::vector<float>{1, 0});
  index.add(2, std::vector<float>{0, 5});   // norm does not matter for cosine
  index.add(3, std::vector<float>{1, 1});
  auto hits = index.search(std::vector<float>{2, 0.1f}, 3);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, 1);
  EXPECT_EQ(hits[1].id, 3);
  EXPECT_EQ(hits[2].id, 2);
  EXPECT_NEAR(index.search(std::vector<float>{1, 1}, 1)[0].score, 1.0, 1e-6);

  index.add(1, std::vector<float>{0, -1});  // replace
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.search(std::vector<float>{1, 0}, 1)[0].id, 3);
  EXPECT_TRUE(index.remove(3));
  EXPECT_FALSE(index.remove(3));
  EXPECT_EQ(index.size(), 2u);
  auto filtered = index.search(std::vector<float>{0, 1}, 5, [](int64_t id) { return id != 2; });
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].id, 1);
  EXPECT_THROW(index.add(9, std::vector<float>{1, 2, 3}), Error);
  EXPECT_THROW(index.search(std::vector<float>{1}, 1), Error);
}

TEST(ExactIndex, InnerProductKeepsMagnitude) {
  ExactIndex index(2, Metric::InnerProduct);
  index.add(1, std::vector<float>{1, 0});
  index.add(2, std::vector<float>{3, 3});
  auto hits = index.search(std::vector<float>{1, 0}, 2);
  EXPECT_EQ(hits[0].id, 2);
  EXPECT_FLOAT_EQ(hits[0].score, 3);
}

TEST(VectorMath, DotMatchesNaiveSum) {
  auto v = random_vectors(2, 389, 3);
  double naive = 0;
  for (size_t i = 0; i < 389; ++i) naive += double(v[0][i]) * v[1][i];
  EXPECT_NEAR(dot(v[0], v[1]), naive, 1e-3);
}

// Random vectors that, like text embeddings, lie near a low-dimensional subspace: a random
// linear map of 32 Gaussian latents into 384 dimensions plus isotropic noise.
std::vector<std::vector<float>> structured_vectors(size_t n, size_t dim, size_t latent, uint32_t seed) {
  auto basis = random_vectors(latent, dim, 1000);  // shared by all calls: one subspace
  auto coords = random_vectors(n, latent, seed);
  auto noise = random_vectors(n, dim, seed + 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < latent; ++k) {
      for (size_t d = 0; d < dim; ++d) out[i][d] += coords[i][k] * basis[k][d];
    }
    for (size_t d = 0; d < dim; ++d) out[i][d] += 0.5f * noise[i][d];
  }
  return out;
}

// recall@10 of HNSW against exact search over the same vectors.
double hnsw_recall(const std::vector<std::vector<float>>& data,
                   const std::vector<std::vector<float>>& queries, const HnswOptions& options) {
  auto start = std::chrono::steady_clock::now();
  HnswIndex hnsw(data[0].size(), Metric::Cosine, options, data.size());
  ExactIndex exact(data[0].size(), Metric::Cosine);
  std::vector<int64_t> ids;
  std::vector<float> rows;
  for (size_t i = 0; i < data.size(); ++i) {
    ids.push_back(static_cast<int64_t>(i));
    rows.insert(rows.end(), data[i].begin(), data[i].end());
    exact.add(static_cast<int64_t>(i), data[i]);
  }
  hnsw.add_batch(ids, rows);  // multi-threaded insert
  EXPECT_EQ(hnsw.size(), data.size());
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t found = 0;
  for (const auto& q : queries) {
    std::set<int64_t> truth;
    for (const auto& h : exact.search(q, 10)) truth.insert(h.id);
    for (const auto& h : hnsw.search(q, 10)) found += truth.count(h.id);
  }
  double recall = static_cast<double>(found) / static_cast<double>(queries.size() * 10);
  std::printf("hnsw M=%zu ef_construction=%zu ef_search=%zu: recall@10 %.4f, build %.2f s\n",
              options.m, options.ef_construction, options.ef_search, recall, build);
  return recall;
}

TEST(HnswIndex, RecallAtTenOnEmbeddingLikeRandomVectors) {
  // Default build and search parameters.
  auto data = structured_vectors(10000, 384, 32, 1);
  auto queries = structured_vectors(100, 384, 32, 7);
  EXPECT_GE(hnsw_recall(data, queries, HnswOptions{}), 0.95);
}

TEST(HnswIndex, RecallAtTenOnIsotropicRandomVectors) {
  // The worst case for any graph index: i.i.d. Gaussian vectors have no structure, so the
  // search beam must be wide (ef_search 128 reaches only ≈ 0.6 here).
  auto data = random_vectors(10000, 384, 1);
  auto queries = random_vectors(100, 384, 2);
  HnswOptions wide;
  wide.ef_construction = 100;
  wide.ef_search = 768;
  EXPECT_GE(hnsw_recall(data, queries, wide), 0.95);
}

TEST(HnswIndex, DeleteReAddGrowAndPersist) {
  constexpr size_t kDim = 16;
  auto data = random_vectors(300, kDim, 5);
  HnswIndex index(kDim, Metric::Cosine, HnswOptions{}, /*initial_capacity=*/16);  // must grow
  for (size_t i = 0; i < data.size(); ++i) index.add(static_cast<int64_t>(i), data[i]);
  EXPECT_EQ(index.size(), 300u);
  auto top = index.search(data[7], 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].id, 7);
  EXPECT_NEAR(top[0].score, 1.0, 1e-5);

  EXPECT_TRUE(index.remove(7));
  EXPECT_FALSE(index.remove(7));
  EXPECT_FALSE(index.remove(12345));
  EXPECT_EQ(index.size(), 299u);
  for (const auto& h : index.search(data[7], 50)) EXPECT_NE(h.id, 7);
  index.add(7, data[7]);  // revives the slot
  EXPECT_EQ(index.search(data[7], 1)[0].id, 7);

  auto even = index.search(data[3], 5, [](int64_t id) { return id % 2 == 0; });
  ASSERT_EQ(even.size(), 5u);
  for (const auto& h : even) EXPECT_EQ(h.id % 2, 0);

  TempDir tmp;
  auto file = tmp.path() / "x.hnsw";
  index.save(file);
  auto loaded = HnswIndex::load(file, kDim, Metric::Cosine, HnswOptions{});
  EXPECT_EQ(loaded->size(), index.size());
  EXPECT_EQ(loaded->search(data[42], 3)[0].id, index.search(data[42], 3)[0].id);
  EXPECT_THROW(HnswIndex::load(file, kDim + 1, Metric::Cosine, HnswOptions{}), Error);
}

// A store with `n` one-chunk documents, each with a random embedding.
struct EmbeddedStore {
  TempDir tmp;
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path());
  Collection c = store->create_collection("vecs");
  std::vector<int64_t> chunk_ids;

  explicit EmbeddedStore(size_t n, size_t dim = 8) {
    auto vecs = random_vectors(n, dim, 9);
    Transaction tx(store->db());
    for (size_t i = 0; i < n; ++i) {
      std::string id = fmt::format("d{}", i);
      store->put_document(c, std::nullopt, DocumentInput{id, "", id, nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
    }
    chunk_ids = store->chunks_without_embedding(c.id, n);
    for (size_t i = 0; i < n; ++i) store->put_embedding(c, chunk_ids[i], vecs[i], "toy");
    tx.commit();
  }
};

TEST(CollectionVectors, PicksExactForSmallCollectionsAndHnswForLarge) {
  EmbeddedStore s(50);
  VectorIndexConfig cfg;
  EXPECT_EQ(CollectionVectors::open(*s.store, s.c, cfg)->kind(), "exact");
  cfg.exact_threshold = 10;
  auto cv = CollectionVectors::open(*s.store, s.c, cfg);
  EXPECT_EQ(cv->kind(), "hnsw");
  EXPECT_EQ(cv->size(), 50u);
  EXPECT_TRUE(std::filesystem::exists(CollectionVectors::index_path(s.store->dir(), "vecs")));
}

TEST(CollectionVectors, ReloadsWhenFreshAndRebuildsWhenStaleOrCorrupt) {
  EmbeddedStore s(40);
  VectorIndexConfig cfg;
  cfg.kind = "hnsw";
  EXPECT_TRUE(CollectionVectors::open(*s.store, s.c, cfg)->rebuilt());   // no file yet
  EXPECT_FALSE(CollectionVectors::open(*s.store, s.c, cfg)->rebuilt());  // loaded

  // A change made without the index (here: a document replaced) leaves the file at an older
  // version: open loads it and replays the change log, without a rebuild.
  s.store->put_document(s.c, std::nullopt, DocumentInput{"d0", "", "new", nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
  auto caught_up = CollectionVectors::open(*s.store, s.c, cfg);
  EXPECT_FALSE(caught_up->rebuilt());
  EXPECT_EQ(caught_up->size(), 39u);
  // With the log pruned past the file's version, the stale file is rebuilt, not trusted.
  s.store->put_document(s.c, std::nullopt, DocumentInput{"d1", "", "new", nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
  s.store->prune_vector_changes(s.c.id, s.store->find_collection("vecs")->vector_version);
  auto cv = CollectionVectors::open(*s.store, s.c, cfg);
  EXPECT_TRUE(cv->rebuilt());
  EXPECT_EQ(cv->size(), 38u);
  EXPECT_FALSE(CollectionVectors::open(*s.store, s.c, cfg)->rebuilt());

  // Other build parameters, or a damaged file, also rebuild.
  cfg.hnsw.m = 8;
  EXPECT_TRUE(CollectionVectors::open(*s.store, s.c, cfg)->rebuilt());
  auto file = CollectionVectors::index_path(s.store->dir(), "vecs");
  { std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary); f.seekp(100); f.put('\x7f'); }
  EXPECT_TRUE(CollectionVectors::open(*s.store, s.c, cfg)->rebuilt());
  std::filesystem::resize_file(file, 10);
  auto again = CollectionVectors::open(*s.store, s.c, cfg);
  EXPECT_TRUE(again->rebuilt());
  EXPECT_EQ(again->size(), 38u);
}

TEST(CollectionVectors, IncrementalUpsertThenSaveStaysFresh) {
  EmbeddedStore s(20);
  VectorIndexConfig cfg;
  cfg.kind = "hnsw";
  auto cv = CollectionVectors::open(*s.store, s.c, cfg);
  s.store->put_document(s.c, std::nullopt, DocumentInput{"extra", "", "x", nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
  int64_t chunk = s.store->chunks_without_embedding(s.c.id, 1).at(0);
  std::vector<float> v(8, 0.5f);
  cv->upsert(s.c, chunk, v, "toy");
  cv->save();
  EXPECT_EQ(cv->search(v, 1).at(0).id, chunk);
  auto reopened = CollectionVectors::open(*s.store, s.c, cfg);
  EXPECT_FALSE(reopened->rebuilt());
  EXPECT_EQ(reopened->size(), 21u);
}

}  // namespace
}  // namespace ragd::rag
