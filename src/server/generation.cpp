#include "server/generation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "server/api_error.h"

namespace ragd::server {

std::vector<int32_t> chat_prompt_tokens(const engine::Llm& llm, const std::vector<model::ChatMessage>& messages) {
  const std::string tmpl(llm.file->get_string("tokenizer.chat_template", ""));
  // Message content is tokenized without parsing special tokens (no forged role markers).
  return model::tokenize_chat(*llm.tokenizer, tmpl, messages, /*add_generation_prompt=*/true);
}

std::vector<int32_t> chat_request_prompt_tokens(const engine::Llm& llm, const ChatRequest& req, const std::string& model_name) {
  const model::ChatTemplate tmpl(llm.file->get_string("tokenizer.chat_template", ""));
  if ((req.tools.active() || req.tool_turns) && tmpl.tool_format() == model::ToolFormat::None) {
    // No invented fallback format: a model never trained on one would answer unreliably.
    const char* what = req.tools.active() ? "tools" : "messages";
    throw bad_request(fmt::format("'{}': model '{}' does not support tools: its chat template ({}) has no "
                                  "tool-call format (supported: Qwen2.5-style <tool_call> templates)",
                                  what, model_name, model::chat_template_name(tmpl.kind())),
                      what);
  }
  return tmpl.tokenize(*llm.tokenizer, req.messages, /*add_generation_prompt=*/true, req.tools.prompt_tools());
}

std::vector<int32_t> completion_prompt_tokens(const engine::Llm& llm, const std::string& prompt) {
  return llm.tokenizer->encode(prompt, /*add_special=*/true, /*parse_special=*/false);
}

Generation start_generation(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                            std::vector<int32_t> prompt, const GenerationParams& params,
                            const std::string& user, const std::string& endpoint) {
  Generation g;
  g.model_name = model->spec.name;
  g.quantization = ctx.quantization(g.model_name);
  g.endpoint = endpoint;
  if (prompt.empty()) throw bad_request("the prompt is empty", "prompt");
  check_logit_bias(params.options.sampling, model->llm->tokenizer->vocab_size());
  check_stop_token_ids(params.options, model->llm->tokenizer->vocab_size());
  engine::GenerationRequest request;
  request.prompt = std::move(prompt);
  request.options = params.options;
  request.priority = params.priority;
  request.user = user;
  ctx.active_users.touch(user);
  auto admission = model->scheduler->submit(std::move(request));
  auto reject = [&](const char* reason) {
    ctx.metrics.inc("ragd_requests_rejected_total", {{"model", g.model_name}, {"reason", reason}});
  };
  switch (admission.status) {
    case engine::AdmitStatus::Accepted: break;
    case engine::AdmitStatus::Overloaded:
      reject("overloaded");
      throw ApiError(503, admission.message, "", "", "overloaded")
          .with_retry_after(std::max(1.0, admission.retry_after_seconds));
    case engine::AdmitStatus::UserLimit:
      reject("user_limit");
      throw ApiError(429, "too many concurrent requests for this user: " + admission.message, "", "",
                     "user_limit")
          .with_retry_after(std::max(1.0, admission.retry_after_seconds));
    case engine::AdmitStatus::TooLong:
      reject("too_long");
      throw ApiError(400, admission.message, "", "messages", "context_length_exceeded");
    case engine::AdmitStatus::Invalid:
      reject("invalid");
      throw bad_request(admission.message);
  }
  g.stream = std::move(admission.stream);
  g.model = std::move(model);
  return g;
}

std::vector<std::shared_ptr<Generation>> start_generations(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                                                           const std::vector<int32_t>& prompt, const GenerationParams& params,
                                                           const std::string& user, const std::string& endpoint) {
  std::vector<std::shared_ptr<Generation>> out;
  const size_t n = std::max<size_t>(params.n, 1);
  out.reserve(n);
  try {
    for (size_t i = 0; i < n; ++i) {
      GenerationParams choice = params;
      choice.options.sampling.seed = choice_seed(params.options.sampling.seed, i);
      out.push_back(std::make_shared<Generation>(start_generation(ctx, model, prompt, choice, user, endpoint)));
    }
  } catch (...) {
    for (auto& g : out) {
      g->stream->cancel();
      g->stream->wait_all();  // retired at the scheduler's next step
      finish_generation(ctx, *g);
    }
    throw;
  }
  return out;
}

engine::GenerationSummary finish_generation(ServerContext& ctx, const Generation& g) {
  auto s = g.stream->summary();
  Labels model = {{"model", g.model_name}, {"quantization", g.quantization}};
  ctx.metrics.inc("ragd_requests_finished_total", {{"model", g.model_name}, {"reason", engine::finish_reason_name(s.finish)}});
  ctx.metrics.inc("ragd_generated_tokens_total", {{"model", g.model_name}}, static_cast<double>(s.completion_tokens));
  ctx.metrics.inc("ragd_prompt_tokens_total", {{"model", g.model_name}}, static_cast<double>(s.prompt_tokens));
  if (s.finish == engine::FinishReason::Stop || s.finish == engine::FinishReason::Length) {
    ctx.metrics.observe("ragd_request_duration_seconds",
                        {{"model", g.model_name}, {"quantization", g.quantization}, {"endpoint", g.endpoint}},
                        g.watch.seconds());
    ctx.metrics.observe("ragd_queue_wait_seconds", model, s.queue_seconds);
    if (s.completion_tokens > 0) ctx.metrics.observe("ragd_time_to_first_token_seconds", model, s.ttft_seconds);
    if (s.completion_tokens > 1) {
      ctx.metrics.observe("ragd_inter_token_latency_seconds", model,
                          s.decode_seconds / static_cast<double>(s.completion_tokens - 1));
    }
  }
  return s;
}

void throw_if_failed(const engine::GenerationSummary& s) {
  if (s.finish == engine::FinishReason::Error) {
    throw ApiError(500, "generation failed: " + (s.error.empty() ? std::string("unknown error") : s.error));
  }
  if (s.finish == engine::FinishReason::Timeout) {
    throw ApiError(503, "the request waited too long in the queue (scheduler.queue_timeout); retry later", "", "",
                   "queue_timeout")
        .with_retry_after(1);
  }
}

std::string finish_reason_string(engine::FinishReason reason) { return engine::finish_reason_name(reason); }

std::string random_id(const std::string& prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

nlohmann::json usage_json(const engine::GenerationSummary& s) {
  nlohmann::json u = {{"prompt_tokens", s.prompt_tokens},
                      {"completion_tokens", s.completion_tokens},
                      {"total_tokens", s.prompt_tokens + s.completion_tokens}};
  if (s.cached_prompt_tokens > 0) u["prompt_tokens_details"] = {{"cached_tokens", s.cached_prompt_tokens}};
  return u;
}

}  // namespace ragd::server

namespace ragd::server {

nlohmann::json usage_json(const std::vector<engine::GenerationSummary>& choices) {
  if (choices.empty()) return usage_json(engine::GenerationSummary{});
  engine::GenerationSummary total = choices.front();
  total.completion_tokens = 0;
  for (const auto& c : choices) total.completion_tokens += c.completion_tokens;
  return usage_json(total);
}

}  // namespace ragd::server
