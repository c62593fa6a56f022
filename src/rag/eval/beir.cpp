#include "rag/eval/beir.h"

#include <fstream>
#include <map>
#include <sstream>

#include "util/error.h"
#include "util/timing.h"

namespace ragd::rag {
namespace {

namespace fs = std::filesystem;

Qrels load_qrels(const fs::path& file) {
  std::ifstream in(file);
  if (!in) fail("cannot read {} (BEIR qrels)", file.string());
  Qrels qrels;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.starts_with("query-id"))) continue;
    std::istringstream fields(line);
    std::string query, doc;
    int score = 0;
    if (!(fields >> query >> doc >> score)) {
      fail("{}:{}: expected 'query-id<TAB>corpus-id<TAB>score'", file.string(), line_no);
    }
    qrels[query][doc] = score;
  }
  return qrels;
}

std::map<std::string, std::string> load_queries(const fs::path& file) {
  std::map<std::string, std::string> queries;
  for_each_jsonl_record(file, "BEIR queries", [&](const nlohmann::json& j, size_t) {
    std::string id = j["_id"].is_string() ? j["_id"].get<std::string>() : j["_id"].dump();
    queries[id] = j["text"].is_string() ? j["text"].get<std::string>() : "";
  });
  return queries;
}

}  // namespace

void for_each_jsonl_record(const fs::path& file, const std::string& what,
                           const std::function<void(const nlohmann::json&, size_t)>& record) {
  std::ifstream in(file);
  if (!in) fail("cannot read {} ({})", file.string(), what);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("_id") || !j.contains("text")) {
      fail("{}:{}: expected a JSON object with _id and text", file.string(), line_no);
    }
    record(j, line_no);
  }
}

BeirData load_beir(const fs::path& dir, const std::string& split) {
  BeirData data;
  data.corpus = dir / "corpus.jsonl";
  if (!fs::exists(data.corpus)) fail("{} not found: not a BEIR dataset folder", data.corpus.string());
  data.qrels = load_qrels(dir / "qrels" / (split + ".tsv"));
  auto queries = load_queries(dir / "queries.jsonl");
  for (const auto& [id, text] : queries) {
    if (data.qrels.count(id)) data.queries.emplace_back(id, text);
  }
  if (data.queries.empty()) fail("no query in {} has judgments in the '{}' split", dir.string(), split);
  return data;
}

BeirReport evaluate_beir(const BeirData& data, Store& store, const BeirOptions& options) {
  BeirReport r;
  r.mode = search_mode_name(options.search.mode);
  Ingestor ingestor(store, options.ingest);
  IngestStats ingest = ingestor.ingest({data.corpus}, options.ingest_progress);
  if (ingest.errors) fail("{} records of {} could not be read", ingest.errors, data.corpus.string());
  CollectionStats stats = store.stats(ingestor.collection().id);
  r.documents = static_cast<size_t>(stats.documents);
  r.chunks = static_cast<size_t>(stats.chunks);
  r.ingest_seconds = ingest.seconds;
  r.documents_per_second = ingest.seconds > 0 ? static_cast<double>(r.documents) / ingest.seconds : 0;
  r.chunks_per_second = ingest.seconds > 0 ? static_cast<double>(r.chunks) / ingest.seconds : 0;

  Collection collection = store.require_collection(ingestor.collection().name);
  std::unique_ptr<CollectionVectors> vectors;
  if (options.search.mode != SearchMode::Bm25) {
    if (!options.embedder) fail("{} evaluation needs an embedding model", r.mode);
    EmbedStats es = embed_missing_chunks(store, collection, *options.embedder, 64, options.embed_progress);
    r.chunks_embedded = es.chunks;
    r.embed_seconds = es.seconds;
    vectors = CollectionVectors::open(store, collection);
  }
  Retriever retriever(store, collection, options.embedder, vectors.get(), options.reranker);
  SearchOptions search = options.search;
  search.top_k = std::max<size_t>(search.top_k, 100);
  search.level = ResultLevel::Documents;  // BEIR judges documents
  std::vector<double> latencies, embed_ms, rerank_ms;
  double ndcg = 0, recall = 0, mrr = 0, hit4 = 0, recall4 = 0;
  const size_t n_queries = options.max_queries ? std::min(options.max_queries, data.queries.size())
                                               : data.queries.size();
  for (size_t qi = 0; qi < n_queries; ++qi) {
    // An even spread over the id-ordered queries (ids often cluster by source article).
    const auto& [id, text] = data.queries[qi * data.queries.size() / n_queries];
    Stopwatch watch;
    SearchTimings t;
    auto hits = retriever.search(text, search, &t);
    latencies.push_back(watch.millis() - t.embed_ms);
    embed_ms.push_back(t.embed_ms);
    rerank_ms.push_back(t.rerank_ms);
    RetrievalRun run;
    for (const auto& h : hits) run.emplace_back(h.external_id, h.score);
    rank_run(run);
    const Judgments& judged = data.qrels.at(id);
    ndcg += ndcg_at_k(run, judged, 10);
    recall += recall_at_k(run, judged, 100);
    mrr += mrr_at_k(run, judged, 10);
    hit4 += hit_at_k(run, judged, 4);
    recall4 += recall_at_k(run, judged, 4);
  }
  r.queries = n_queries;
  auto n = static_cast<double>(r.queries);
  r.ndcg_at_10 = ndcg / n;
  r.recall_at_100 = recall / n;
  r.mrr_at_10 = mrr / n;
  r.hit_at_4 = hit4 / n;
  r.recall_at_4 = recall4 / n;
  r.rerank_ms_p50 = percentile(rerank_ms, 50);
  r.rerank_ms_p99 = percentile(rerank_ms, 99);
  r.latency_ms_p50 = percentile(latencies, 50);
  r.latency_ms_p99 = percentile(latencies, 99);
  r.embed_ms_p50 = percentile(embed_ms, 50);
  r.embed_ms_p99 = percentile(embed_ms, 99);
  double sum = 0;
  for (double l : latencies) sum += l;
  r.latency_ms_mean = sum / n;
  return r;
}

}  // namespace ragd::rag
