// The JSON of a RAG answer (/v1/rag/query, and the extra fields of RAG chat): sources,
// citations with their spans, cache outcome, usage and per-stage timings.
#pragma once

#include <nlohmann/json.hpp>

#include "rag/answer/answer_service.h"

namespace ragd::server {

nlohmann::json sources_json(const rag::AnswerPlan& plan);
nlohmann::json cache_json(const rag::AnswerPlan& plan, bool use_cache);
nlohmann::json timings_json(const rag::AnswerTimings& t);
nlohmann::json answer_usage_json(const rag::Answer& a);
// The rag.answer object.
nlohmann::json answer_json(const rag::AnswerPlan& plan, const rag::Answer& answer, bool use_cache);

}  // namespace ragd::server
