#include "rag/store/sqlite_store.h"
#include "rag/ingest/embed_chunks.h"

#include <gtest/gtest.h>

#include "rag/ingest/ingest.h"
#include "rag/ingest/temp_dir.h"
#include "test_util.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// Records what it is asked to embed; every vector is the same unit vector.
class RecordingEmbedder : public Embedder {
 public:
  RecordingEmbedder(std::string name, size_t dim) : name_(std::move(name)), dim_(dim) {}
  std::string name() const override { return name_; }
  size_t dim() const override { return dim_; }
  std::vector<float> embed_query(std::string_view) override {
    std::vector<float> v(dim_, 0.0f);
    v[0] = 1;
    return v;
  }
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>& texts) override {
    seen.insert(seen.end(), texts.begin(), texts.end());
    return std::vector<std::vector<float>>(texts.size(), embed_query(""));
  }
  std::vector<std::string> seen;

 private:
  std::string name_;
  size_t dim_;
};

struct Fixture {
  TempDir tmp;
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path() / "db");
  Collection collection;

  Fixture() {
    testing::write_file(tmp.path() / "docs/a.md", "# Alpha\n\nFirst body text.\n");
    testing::write_file(tmp.path() / "docs/b.txt", "Second body text.\n");
    IngestOptions options;
    Ingestor ingestor(*store, options);
    ingestor.ingest(collect_input_files({(tmp.path() / "docs").string()}));
    collection = store->require_collection("default");
  }
};

TEST(EmbedChunks, EmbedsEachChunkOnceWithItsTitle) {
  Fixture f;
  RecordingEmbedder e("model-a", 4);
  size_t total = 0;
  EmbedStats s = embed_missing_chunks(*f.store, f.collection, e, 1,
                                      [&](size_t, size_t t) { total = t; });
  auto stats = f.store->stats(f.collection.id);
  EXPECT_EQ(s.chunks, static_cast<size_t>(stats.chunks));
  EXPECT_EQ(stats.embeddings, stats.chunks);
  EXPECT_EQ(total, s.chunks);
  EXPECT_EQ(f.collection.embedding_model, "model-a");
  EXPECT_EQ(f.collection.embedding_dim, 4u);
  bool titled = false;
  for (const auto& t : e.seen) titled |= t.find("Alpha") != std::string::npos && t.find("First body") != std::string::npos;
  EXPECT_TRUE(titled);
  // Nothing left to do: a second run embeds nothing.
  EXPECT_EQ(embed_missing_chunks(*f.store, f.collection, e).chunks, 0u);
}

TEST(EmbedChunks, RefusesAnotherModelOrDimension) {
  Fixture f;
  RecordingEmbedder a("model-a", 4), b("model-b", 4), wide("model-a", 8);
  embed_missing_chunks(*f.store, f.collection, a);
  for (Embedder* other : {static_cast<Embedder*>(&b), static_cast<Embedder*>(&wide)}) {
    try {
      embed_missing_chunks(*f.store, f.collection, *other);
      FAIL() << "mixing models must fail";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot be mixed"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(check_embedder_matches(f.collection, a));
}

}  // namespace
}  // namespace ragd::rag
