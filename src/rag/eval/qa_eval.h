// Answer-quality evaluation (`ragd eval qa`): questions with gold answers are asked through
// the answer service (rag/answer/answer_service.h, the same path as /v1/rag/query), and
// the answers, citations, retrieved sources and stage timings are scored.
//
// Data folder: corpus.jsonl (`_id`, `title`, `text`), answers.jsonl (`_id`, `text`,
// `answers`: accepted answer strings), and optionally qrels/test.tsv naming each
// question's gold paragraph (needed for citation precision and hit@k).
//
// Scores per question (qa_metrics.h for the text measures; answers are scored without
// their [n] markers):
//   exact match, token F1     best over the gold answers
//   contains                  a gold answer occurs in the answer
//   cited                     the answer has at least one citation of an existing source
//   citation precision        cited sources that are the gold paragraph / cited sources
//                             (micro average over all citations of the run)
//   hit@k                     the gold paragraph is among the first k retrieved chunks
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "rag/answer/answer_service.h"

namespace ragd::rag {

struct QaExample {
  std::string id, question;
  std::vector<std::string> answers;
  std::vector<std::string> gold_documents;  // corpus _ids; empty without qrels
};

struct QaData {
  std::filesystem::path corpus;
  std::vector<QaExample> examples;  // in answers.jsonl order
};

// Throws ragd::Error naming the missing or malformed file.
QaData load_qa(const std::filesystem::path& dir);

struct QaResult {
  std::string id, question, answer;
  std::vector<std::string> golds;
  double exact_match = 0, f1 = 0;
  bool contains = false;
  size_t citations = 0, gold_citations = 0;  // valid citations; those of the gold paragraph
  bool hit_at_1 = false, hit_at_4 = false;
  bool no_answer = false;                    // answered "not in the documents" without generating
  engine::FinishReason finish = engine::FinishReason::Stop;
  size_t completion_tokens = 0;
  AnswerTimings timings;
};

// `ranked`: the retrieval's hits in rank order, at least kHitDepth deep where the store has
// that many (hit@1 and hit@4 are read from it; it may go deeper than the sources given).
inline constexpr size_t kHitDepth = 4;
QaResult score_answer(const QaExample& example, const std::vector<SearchHit>& ranked, const AnswerPlan& plan,
                      const Answer& answer);

struct StageLatency {
  std::string stage;
  double p50 = 0, p95 = 0;  // ms
};

struct QaReport {
  size_t questions = 0;
  double exact_match = 0, f1 = 0, contains = 0;
  double citation_rate = 0, citation_precision = 0;
  double hit_at_1 = 0, hit_at_4 = 0;
  double no_answer_rate = 0;    // questions answered "not in the documents"
  double length_stop_rate = 0;  // answers cut by max_tokens
  double mean_completion_tokens = 0;
  std::vector<StageLatency> latency;  // embed, retrieve, rerank, prefill, decode, total
};

QaReport summarize_qa(const std::vector<QaResult>& results);

// Asks examples skip .. skip+n-1 (all from skip when n is 0) in order through `service`;
// `request` is the template of every request (its query is replaced). on_result is called
// after each.
std::vector<QaResult> run_qa(const QaData& data, size_t skip, size_t n, const AnswerService& service,
                             const AnswerRequest& request,
                             const std::function<void(const QaResult&, size_t done, size_t total)>& on_result = {});

}  // namespace ragd::rag
