#include "rag/eval/qa_eval.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "rag/eval/beir.h"
#include "rag/eval/qa_metrics.h"
#include "rag/eval/eval_metrics.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

namespace fs = std::filesystem;

std::string id_string(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::vector<QaExample> load_answers(const fs::path& file) {
  std::vector<QaExample> out;
  for_each_jsonl_record(file, "QA answers", [&](const nlohmann::json& j, size_t line_no) {
    if (!j["text"].is_string() || !j.contains("answers") || !j["answers"].is_array()) {
      fail("{}:{}: expected a JSON object with _id, text and an answers array", file.string(), line_no);
    }
    QaExample e;
    e.id = id_string(j["_id"]);
    e.question = j["text"].get<std::string>();
    for (const auto& a : j["answers"]) {
      if (a.is_string()) e.answers.push_back(a.get<std::string>());
    }
    if (e.answers.empty()) fail("{}:{}: 'answers' holds no answer string", file.string(), line_no);
    out.push_back(std::move(e));
  });
  if (out.empty()) fail("{} holds no questions", file.string());
  return out;
}

double rate(size_t n, size_t total) { return total ? static_cast<double>(n) / static_cast<double>(total) : 0; }

}  // namespace

QaData load_qa(const fs::path& dir) {
  QaData data;
  data.corpus = dir / "corpus.jsonl";
  if (!fs::exists(data.corpus)) fail("{} not found: not a QA dataset folder", data.corpus.string());
  data.examples = load_answers(dir / "answers.jsonl");
  if (fs::exists(dir / "qrels" / "test.tsv")) {
    // The BEIR loader reads the qrels (and checks queries.jsonl agrees with them).
    BeirData beir = load_beir(dir, "test");
    for (auto& e : data.examples) {
      auto it = beir.qrels.find(e.id);
      if (it == beir.qrels.end()) continue;
      for (const auto& [doc, grade] : it->second) {
        if (grade > 0) e.gold_documents.push_back(doc);
      }
    }
  }
  return data;
}

QaResult score_answer(const QaExample& e, const std::vector<SearchHit>& hits, const AnswerPlan& plan,
                      const Answer& a) {
  QaResult r;
  r.id = e.id;
  r.question = e.question;
  r.answer = a.text;
  r.golds = e.answers;
  const std::string said = strip_citations(a.text);
  r.exact_match = best_exact_match(said, e.answers);
  r.f1 = best_token_f1(said, e.answers);
  r.contains = contains_answer(said, e.answers);
  auto gold = [&](const std::string& doc) {
    return std::find(e.gold_documents.begin(), e.gold_documents.end(), doc) != e.gold_documents.end();
  };
  r.citations = a.citations.size();
  for (const auto& c : a.citations) r.gold_citations += gold(c.external_id) ? 1 : 0;
  for (size_t i = 0; i < hits.size() && i < kHitDepth; ++i) {
    if (!gold(hits[i].external_id)) continue;
    r.hit_at_4 = true;
    if (i == 0) r.hit_at_1 = true;
  }
  r.no_answer = plan.not_relevant;
  r.finish = a.finish;
  r.completion_tokens = a.completion_tokens;
  r.timings = a.timings;
  return r;
}

QaReport summarize_qa(const std::vector<QaResult>& results) {
  QaReport r;
  r.questions = results.size();
  size_t contains = 0, cited = 0, citations = 0, gold_citations = 0, hit1 = 0, hit4 = 0, none = 0, length = 0;
  double em = 0, f1 = 0, tokens = 0;
  std::vector<double> embed, retrieve, rerank, prefill, decode, total;
  for (const auto& q : results) {
    em += q.exact_match;
    f1 += q.f1;
    contains += q.contains;
    cited += q.citations > 0;
    citations += q.citations;
    gold_citations += q.gold_citations;
    hit1 += q.hit_at_1;
    hit4 += q.hit_at_4;
    none += q.no_answer;
    length += q.finish == engine::FinishReason::Length;
    tokens += static_cast<double>(q.completion_tokens);
    embed.push_back(q.timings.embed);
    retrieve.push_back(q.timings.retrieve);
    rerank.push_back(q.timings.rerank);
    prefill.push_back(q.timings.prefill);
    decode.push_back(q.timings.decode);
    total.push_back(q.timings.total);
  }
  const double n = r.questions ? static_cast<double>(r.questions) : 1;
  r.exact_match = em / n;
  r.f1 = f1 / n;
  r.contains = rate(contains, r.questions);
  r.citation_rate = rate(cited, r.questions);
  r.citation_precision = rate(gold_citations, citations);
  r.hit_at_1 = rate(hit1, r.questions);
  r.hit_at_4 = rate(hit4, r.questions);
  r.no_answer_rate = rate(none, r.questions);
  r.length_stop_rate = rate(length, r.questions);
  r.mean_completion_tokens = tokens / n;
  const std::pair<const char*, std::vector<double>*> stages[] = {
      {"embed", &embed}, {"retrieve", &retrieve}, {"rerank", &rerank},
      {"prefill", &prefill}, {"decode", &decode}, {"total", &total}};
  for (const auto& [name, values] : stages) r.latency.push_back({name, percentile(*values, 50), percentile(*values, 95)});
  return r;
}

std::vector<QaResult> run_qa(const QaData& data, size_t skip, size_t n, const AnswerService& service,
                             const AnswerRequest& request,
                             const std::function<void(const QaResult&, size_t, size_t)>& on_result) {
  const size_t available = data.examples.size() - std::min(skip, data.examples.size());
  const size_t total = n ? std::min(n, available) : available;
  std::vector<QaResult> out;
  out.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    const QaExample& e = data.examples[skip + i];
    AnswerRequest req = request;
    req.retrieval.query = e.question;
    AnswerPlan plan = service.plan(std::move(req));
    Answer a = service.answer(plan);
    // The model may be given fewer sources than hit@4 looks at: retrieve that deep apart.
    std::vector<SearchHit> ranked = plan.retrieval.hits;
    if (plan.request.retrieval.top_k < kHitDepth) {
      RetrievalRequest deeper = plan.request.retrieval;
      deeper.top_k = kHitDepth;
      ranked = service.retrieval().retrieve(deeper).hits;
    }
    out.push_back(score_answer(e, ranked, plan, a));
    if (on_result) on_result(out.back(), i + 1, total);
  }
  return out;
}

}  // namespace ragd::rag
