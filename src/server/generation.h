// Generation: one admitted request on a model's scheduler, from the HTTP side — prompt
// rendering and tokenization, admission (mapped to HTTP errors), and the metrics recorded
// when it finishes. Shared by chat, completions, RAG and batch.
//
// A model served by upstream servers (engine/upstream_model.h) is admitted by its
// UpstreamModel instead of a scheduler, from the prompt before tokenization (PromptInput);
// the Generation it yields is read exactly like a local one. Request fields it cannot
// forward are refused with a 400 naming them (upstream_model.h: unsupported_fields, plus
// `priority`, which orders only ragd's own queue).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_registry.h"
#include "model/chat_template.h"
#include "server/request_parsing.h"
#include "server/server_context.h"
#include "util/timing.h"

namespace ragd::server {

struct Generation {
  std::shared_ptr<engine::LoadedModel> model;  // keeps the model loaded while it runs
  std::shared_ptr<engine::RequestStream> stream;
  std::string model_name, quantization, endpoint;
  Stopwatch watch;  // since submit
};

// The chat prompt as token ids: the model's chat template, with the assistant header.
std::vector<int32_t> chat_prompt_tokens(const engine::Llm& llm, const std::vector<model::ChatMessage>& messages);
// A chat request's prompt, its tools included (server/tool_calls.h). Throws ApiError(400)
// naming `model_name` when the request uses tools (tool_choice other than "none", `tool`
// messages, assistant tool_calls) and the model's chat template has no tool format.
std::vector<int32_t> chat_request_prompt_tokens(const engine::Llm& llm, const ChatRequest& req, const std::string& model_name);
// A raw completion prompt: BOS as the vocabulary asks, special markers not parsed.
std::vector<int32_t> completion_prompt_tokens(const engine::Llm& llm, const std::string& prompt);

// The prompt of a generation before it meets its model: a local model turns it into token
// ids (`tokens`), an upstream model is sent `upstream` (messages or text, templated by the
// upstream). Either may throw ApiError(400) for what that kind of model cannot do.
struct PromptInput {
  std::function<std::vector<int32_t>(const engine::LoadedModel&)> tokens;
  std::function<engine::UpstreamPrompt(const engine::LoadedModel&)> upstream;
};
// A chat request (tools included; refused by name for an upstream model). Holds `req` by
// reference: use it before `req` goes.
PromptInput chat_input(const ChatRequest& req);
PromptInput completion_input(const std::string& prompt);
// Messages whose token ids a local model already has (a RAG answer's plan).
PromptInput messages_input(std::vector<model::ChatMessage> messages, std::vector<int32_t> tokens);

// A local model's Llm, or ApiError(400) saying that `what` needs a model that runs in ragd
// when `model` is served by an upstream server.
const engine::Llm& local_llm(const engine::LoadedModel& model, const std::string& what);

// Submits to the model's scheduler. Throws ApiError: 503 + Retry-After (overloaded),
// 429 + Retry-After (the user's cap), 400 (prompt too long or invalid options).
Generation start_generation(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                            std::vector<int32_t> prompt, const GenerationParams& params,
                            const std::string& user, const std::string& endpoint);

// Either kind of model: a local one through the overload above, an upstream one through
// its UpstreamModel (503 + Retry-After when none of its servers can take the request, 400
// with the upstream's message when it refuses it).
Generation start_generation(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model, const PromptInput& prompt,
                            const GenerationParams& params, const std::string& user, const std::string& endpoint);

// `params.n` choices of one prompt (OpenAI `n`), each its own sequence on the scheduler
// with the seed choice_seed(seed, i), submitted as one group (Scheduler::submit_choices):
// the prompt is prefilled once and the choices start from its KV blocks. All or nothing:
// the scheduler admits every choice or none, and a refusal is thrown as start_generation
// throws it.
std::vector<std::shared_ptr<Generation>> start_generations(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                                                           const std::vector<int32_t>& prompt, const GenerationParams& params,
                                                           const std::string& user, const std::string& endpoint);
// As above for either kind of model (an upstream model gets one request per choice).
std::vector<std::shared_ptr<Generation>> start_generations(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                                                           const PromptInput& prompt, const GenerationParams& params,
                                                           const std::string& user, const std::string& endpoint);

// Records latency, TTFT, inter-token latency and token counters of a finished generation
// (call once, after the stream finished or was cancelled) and returns its summary.
engine::GenerationSummary finish_generation(ServerContext& ctx, const Generation& g);

// The ApiError for a generation that failed (Error → 500, Timeout → 503), if it did.
void throw_if_failed(const engine::GenerationSummary& summary);

// OpenAI finish_reason: "stop", "length"; ragd's other reasons by name.
std::string finish_reason_string(engine::FinishReason reason);

// "chatcmpl-…" style ids: prefix + 24 random hex digits.
std::string random_id(const std::string& prefix);
int64_t unix_time();

nlohmann::json usage_json(const engine::GenerationSummary& s);
// The usage of n choices of one prompt, as OpenAI counts it: the prompt once, the
// completion tokens of every choice summed (cached tokens: the first choice's).
nlohmann::json usage_json(const std::vector<engine::GenerationSummary>& choices);

}  // namespace ragd::server
