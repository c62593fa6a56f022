// Replica catch-up and retrieval latency on a store (docs/scaling.md, "Shared document
// store"): synthetic chunks with random vectors, written through the Store API.
//
//   bench_store_sync LOCATION DIR [chunks=10000] [queries=200] [pickups=20] [rebuilds=5]
//
// LOCATION: "sqlite" (the database in DIR) or a postgres:// URI (DIR: the replicas' caches).
// The collection "bench" is dropped and re-created. Chunks are 10 per document, about 100
// words each drawn log-uniformly from 2,000 made-up words (a few common, most rare, like
// text), with random unit 384-dimensional vectors under the model name "bench".
//
// Prints, for two replicas (two StoreAccess) on the store:
//   pick-up   replica B's next query after replica A ingested one more document (10
//             chunks): the index catch-up alone, incremental (the change log; median of
//             `pickups`) and full rebuild (the log pruned past B's version first; median of
//             `rebuilds`, 0 to skip: at 100k chunks each builds an HNSW graph, minutes)
//   retrieval p50/p99 of Retriever::search on replica B, chunks level, top 10, without the
//             query embedding (vectors are given), as the server runs it: bm25 (SQLite:
//             the in-memory MaxScore index over FTS5's data, built by the first queries;
//             PostgreSQL: ts_rank in the database), dense (the in-memory vector index, then
//             the chunk texts from the store) and hybrid
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "rag/search/retriever.h"
#include "rag/store/store_access.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace ragd::rag;

constexpr size_t kDim = 384;
constexpr int kChunksPerDoc = 10;
constexpr int kVocabulary = 2000;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Returns a fixed vector for every query: the bench times retrieval, not embedding.
class FixedEmbedder final : public Embedder {
 public:
  std::vector<float> query;
  std::string name() const override { return "bench"; }
  size_t dim() const override { return kDim; }
  std::vector<float> embed_query(std::string_view) override { return query; }
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>&) override {
    throw std::runtime_error("the bench embeds no passages");
  }
};

struct Synth {
  std::mt19937_64 rng{42};
  std::string word() {
    // log-uniform rank: word k is drawn with probability ~ 1/k.
    double u = std::uniform_real_distribution<double>(0, std::log(kVocabulary))(rng);
    return fmt::format("w{}", static_cast<int>(std::exp(u)));
  }
  std::string text(int words) {
    std::string s;
    for (int i = 0; i < words; ++i) {
      if (i) s += ' ';
      s += word();
    }
    return s;
  }
  std::vector<float> vector() {
    std::normal_distribution<float> n;
    std::vector<float> v(kDim);
    float norm = 0;
    for (auto& x : v) {
      x = n(rng);
      norm += x * x;
    }
    for (auto& x : v) x /= std::sqrt(norm);
    return v;
  }
};

// One document of kChunksPerDoc chunks with their vectors, in one transaction.
void ingest_document(Store& s, Synth& synth, const std::string& id) {
  Collection c = s.create_collection("bench");
  StoreTransaction tx(s);
  DocumentInput d;
  d.external_id = id;
  d.title = "Document " + id;
  d.content_hash = id;
  for (int i = 0; i < kChunksPerDoc; ++i) d.chunks.push_back(Chunk{d.title, "", synth.text(100), 100});
  int64_t doc = s.put_document(c, std::nullopt, d, true);
  for (const auto& chunk : s.document_chunks(doc)) s.put_embedding(c, chunk.id, synth.vector(), "bench");
  tx.commit();
}

// Replica B's index catch-up for its next query, in ms.
double pickup(StoreAccess& b) {
  return b.read([&](Store& s) {
    auto c = s.require_collection("bench");
    auto t0 = Clock::now();
    b.vectors(c);
    return ms_since(t0);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: {} LOCATION DIR [chunks=10000] [queries=200] [pickups=20] [rebuilds=5]\n",
               argv[0]);
    return 2;
  }
  const std::string location = argv[1];
  const std::string dir = argv[2];
  const int chunks = argc > 3 ? std::atoi(argv[3]) : 10000;
  const int queries = argc > 4 ? std::atoi(argv[4]) : 200;
  const int pickups = std::max(1, argc > 5 ? std::atoi(argv[5]) : 20);
  const int rebuilds = argc > 6 ? std::atoi(argv[6]) : 5;
  try {
    Synth synth;
    StoreAccess a(location == "sqlite" ? dir : dir + "/a", location);
    StoreAccess b(location == "sqlite" ? dir : dir + "/b", location);
    a.write([&](Store& s) {
      if (auto c = s.find_collection("bench")) s.delete_collection(*c);
      return 0;
    });
    auto t0 = Clock::now();
    int docs = 0;
    for (; docs * kChunksPerDoc < chunks; ++docs) {
      a.write([&](Store& s) {
        ingest_document(s, synth, fmt::format("d{}", docs));
        return 0;
      });
    }
    fmt::print("{}: {} chunks ingested in {:.1f} s\n", location == "sqlite" ? "SQLite" : "PostgreSQL",
               docs * kChunksPerDoc, ms_since(t0) / 1000);

    auto first = Clock::now();
    pickup(b);
    fmt::print("replica B first open (full build): {:.1f} ms, index {}\n", ms_since(first),
               b.read([&](Store& s) { return b.vectors(s.require_collection("bench"))->kind(); }));

    std::vector<double> incremental, rebuild;
    for (int i = 0; i < pickups; ++i) {
      a.write([&](Store& s) { ingest_document(s, synth, fmt::format("d{}", docs++)); return 0; });
      incremental.push_back(pickup(b));
    }
    for (int i = 0; i < rebuilds; ++i) {
      a.write([&](Store& s) {
        ingest_document(s, synth, fmt::format("d{}", docs++));
        auto c = s.require_collection("bench");
        s.prune_vector_changes(c.id, c.vector_version);
        return 0;
      });
      rebuild.push_back(pickup(b));
    }
    auto u = b.index_updates();
    fmt::print("pick-up of 1 new document ({} chunks) by replica B, ms:\n", kChunksPerDoc);
    fmt::print("  incremental   p50 {:8.2f}  max {:8.2f}  (n={}, counted {})\n", percentile(incremental, 0.5),
               percentile(incremental, 1.0), incremental.size(), u.incremental);
    if (!rebuild.empty()) {
      fmt::print("  full rebuild  p50 {:8.2f}  max {:8.2f}  (n={}, counted {})\n", percentile(rebuild, 0.5),
                 percentile(rebuild, 1.0), rebuild.size(), u.rebuilt);
    }

    FixedEmbedder embedder;
    fmt::print("retrieval on replica B, {} queries, top 10 chunks, ms (without embedding the query):\n", queries);
    for (auto mode : {SearchMode::Bm25, SearchMode::Dense, SearchMode::Hybrid}) {
      SearchOptions o;
      o.mode = mode;
      o.level = ResultLevel::Chunks;
      std::vector<double> ms;
      for (int q = 0; q < queries; ++q) {
        std::string text = synth.word() + " " + synth.word() + " " + synth.word();
        embedder.query = synth.vector();
        b.read([&](Store& s) {
          auto c = s.require_collection("bench");
          SearchTimings t;
          Retriever r(s, c, &embedder, b.vectors(c));
          r.search(text, o, &t);
          ms.push_back(t.total_ms - t.embed_ms);
          return 0;
        });
      }
      fmt::print("  {:7s} p50 {:8.2f}  p99 {:8.2f}\n", search_mode_name(mode), percentile(ms, 0.5),
                 percentile(ms, 0.99));
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
