#include "rag/search/retriever.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "rag/search/bm25_search.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::rag {

struct Retriever::Candidates {
  RankedList bm25, dense;
  std::unordered_map<int64_t, int64_t> document_of;  // chunk id → document id
  std::unordered_map<int64_t, double> bm25_score, dense_score;
};

SearchMode parse_search_mode(std::string_view name) {
  if (name == "bm25") return SearchMode::Bm25;
  if (name == "dense") return SearchMode::Dense;
  if (name == "hybrid") return SearchMode::Hybrid;
  fail("unknown search mode '{}' (use bm25, dense or hybrid)", name);
}

const char* search_mode_name(SearchMode mode) {
  switch (mode) {
    case SearchMode::Bm25: return "bm25";
    case SearchMode::Dense: return "dense";
    case SearchMode::Hybrid: return "hybrid";
  }
  return "?";
}

FusionMethod parse_fusion_method(std::string_view name) {
  if (name == "weighted") return FusionMethod::Weighted;
  if (name == "rrf") return FusionMethod::Rrf;
  fail("unknown fusion method '{}' (use weighted or rrf)", name);
}

SearchProfile search_profile(std::string_view name) {
  // fast: fewest candidates, no reranking; quality: wide candidate pools for fusion and
  // the reranker.
  if (name == "fast") return SearchProfile{"fast", 30, 30, 2, 0};
  if (name == "default") return SearchProfile{};
  if (name == "quality") return SearchProfile{"quality", 300, 300, 5, 50};
  fail("unknown search profile '{}' (use fast, default or quality)", name);
}

Retriever::Retriever(Store& store, Collection collection, Embedder* embedder,
                     CollectionVectors* vectors, Reranker* reranker)
    : store_(store),
      collection_(std::move(collection)),
      embedder_(embedder),
      vectors_(vectors),
      reranker_(reranker) {}

void Retriever::bm25_candidates(std::string_view query, const SearchOptions& o, size_t n,
                                Candidates& c) {
  for (const auto& hit : bm25_search(store_, collection_, query, n, o.filters, o.fts)) {
    c.bm25.items.push_back(ScoredId{hit.chunk_id, hit.score});
    c.document_of[hit.chunk_id] = hit.document_id;
    c.bm25_score[hit.chunk_id] = hit.score;
  }
}

double Retriever::dense_candidates(std::string_view query, const SearchOptions& o, size_t n,
                                   Candidates& c) {
  Stopwatch embed_watch;
  std::vector<float> q = embedder_->embed_query(query);
  const double embed_ms = embed_watch.millis();
  IdFilter filter;
  std::shared_ptr<std::unordered_set<int64_t>> allowed;
  if (!o.filters.empty()) {
    auto ids = store_.chunk_ids_matching(collection_.id, o.filters);
    allowed = std::make_shared<std::unordered_set<int64_t>>(ids.begin(), ids.end());
    filter = [allowed](int64_t id) { return allowed->count(id) > 0; };
  }
  std::vector<int64_t> missing;
  for (const auto& hit : vectors_->search(q, n, filter)) {
    c.dense.items.push_back(ScoredId{hit.id, hit.score});
    c.dense_score[hit.id] = hit.score;
    if (!c.document_of.count(hit.id)) missing.push_back(hit.id);
  }
  for (const auto& [chunk, doc] : store_.document_ids(missing)) c.document_of[chunk] = doc;
  return embed_ms;
}

// Only the head (the best `depth`) is reranked; the tail keeps its first-stage order and
// is scored below the head (lowest head score − 1 − rank/size), so that the list stays
// sorted and Recall@k of deep evaluations still sees it.
void Retriever::rerank(std::string_view query, std::vector<ScoredId>& ranked, size_t depth) {
  const size_t n = std::min(ranked.size(), depth);
  std::vector<int64_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(ranked[i].id);
  auto records = store_.get_chunks(ids);
  std::unordered_map<int64_t, double> first_stage;
  for (size_t i = 0; i < n; ++i) first_stage[ranked[i].id] = ranked[i].score;
  std::vector<std::string> texts;
  std::vector<RerankCandidate> cands;
  for (const auto& rec : records) {
    texts.push_back(rec.title + "\n" + (rec.heading.empty() ? "" : rec.heading + "\n") + rec.text);
  }
  for (size_t i = 0; i < records.size(); ++i) cands.push_back({records[i].id, texts[i], first_stage[records[i].id]});
  reranker_->rerank(query, cands);
  if (reranker_->name() == "none") return;  // scores and order stay the first stage's
  std::unordered_map<int64_t, double> score;
  for (const auto& cand : cands) score[cand.id] = cand.score;
  std::vector<ScoredId> head(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n));
  for (auto& r : head) r.score = score.count(r.id) ? score[r.id] : r.score;
  sort_by_score(head);
  double floor = head.empty() ? 0 : head.back().score;
  for (const auto& r : head) floor = std::min(floor, r.score);
  const double tail = static_cast<double>(ranked.size() - n);
  for (size_t i = n; i < ranked.size(); ++i) ranked[i].score = floor - 1 - static_cast<double>(i - n) / tail;
  std::copy(head.begin(), head.end(), ranked.begin());
}

// Stage 2 and 3: one ranked chunk list (fused for hybrid), then one entry per document.
std::vector<ScoredId> Retriever::rank(const SearchOptions& o, Candidates& c) {
  std::vector<ScoredId> ranked;
  if (o.mode == SearchMode::Bm25) {
    ranked = std::move(c.bm25.items);
  } else if (o.mode == SearchMode::Dense) {
    ranked = std::move(c.dense.items);
  } else {
    c.bm25.weight = o.bm25_weight;
    c.dense.weight = o.dense_weight;
    RankedList lists[] = {c.bm25, c.dense};
    ranked = o.fusion == FusionMethod::Rrf ? reciprocal_rank_fusion(lists, o.rrf_k)
                                           : weighted_fusion(lists);
  }
  if (o.level == ResultLevel::Documents) {
    // Lists are best first, so the first chunk seen of each document is its best one.
    std::unordered_set<int64_t> seen;
    std::erase_if(ranked, [&](const ScoredId& s) { return !seen.insert(c.document_of[s.id]).second; });
  }
  return ranked;
}

std::vector<SearchHit> Retriever::make_hits(const std::vector<ScoredId>& ranked, const Candidates& c) {
  std::vector<int64_t> ids;
  std::unordered_map<int64_t, double> final_score;
  for (const auto& r : ranked) {
    ids.push_back(r.id);
    final_score[r.id] = r.score;
  }
  std::vector<SearchHit> hits;
  for (auto& rec : store_.get_chunks(ids)) {  // in ranked order; a chunk deleted meanwhile is skipped
    SearchHit h{rec.id, rec.document_id, std::move(rec.external_id), std::move(rec.title),
                std::move(rec.heading), std::move(rec.text), std::move(rec.metadata),
                final_score[rec.id], std::nullopt, std::nullopt};
    if (auto it = c.bm25_score.find(h.chunk_id); it != c.bm25_score.end()) h.bm25_score = it->second;
    if (auto it = c.dense_score.find(h.chunk_id); it != c.dense_score.end()) h.dense_score = it->second;
    hits.push_back(std::move(h));
  }
  return hits;
}

std::vector<SearchHit> Retriever::search(std::string_view query, const SearchOptions& o,
                                         SearchTimings* timings) {
  Stopwatch total, stage;
  SearchTimings t;
  if (o.top_k == 0) fail("top-k must be at least 1");
  bool want_bm25 = o.mode != SearchMode::Dense, want_dense = o.mode != SearchMode::Bm25;
  if (want_dense && (!embedder_ || !vectors_)) {
    fail("{} search needs an embedding model, and no embedding model is configured yet; "
         "use --mode bm25",
         search_mode_name(o.mode));
  }
  size_t oversample = o.level == ResultLevel::Documents ? std::max<size_t>(o.profile.oversample, 1) : 1;
  Candidates c;
  if (want_bm25) {
    bm25_candidates(query, o, std::max(o.profile.bm25_candidates, o.top_k * oversample), c);
    t.bm25_ms = stage.millis();
  }
  stage.reset();
  if (want_dense) {
    t.embed_ms = dense_candidates(query, o, std::max(o.profile.dense_candidates, o.top_k * oversample), c);
    t.dense_ms = stage.millis() - t.embed_ms;
  }
  stage.reset();
  std::vector<ScoredId> ranked = rank(o, c);
  t.fusion_ms = stage.millis();
  stage.reset();
  if (reranker_ && o.profile.rerank_candidates > 0 && !ranked.empty()) {
    rerank(query, ranked, o.profile.rerank_candidates);
    t.rerank_ms = stage.millis();
  }
  stage.reset();
  if (o.min_score) std::erase_if(ranked, [&](const ScoredId& s) { return s.score < *o.min_score; });
  if (ranked.size() > o.top_k) ranked.resize(o.top_k);
  auto hits = make_hits(ranked, c);
  t.fetch_ms = stage.millis();
  t.total_ms = total.millis();
  if (timings) *timings = t;
  return hits;
}

}  // namespace ragd::rag
