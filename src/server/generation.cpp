#include "server/generation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "server/api_error.h"

namespace ragd::server {

std::vector<int32_t> chat_prompt_tokens(const engine::Llm& llm, const std::vector<model::ChatMessage>& messages) {
  const std::string tmpl(model::chat_template_for(*llm.file));
  // Message content is tokenized without parsing special tokens (no forged role markers).
  return model::tokenize_chat(*llm.tokenizer, tmpl, messages, /*add_generation_prompt=*/true);
}

std::vector<int32_t> chat_request_prompt_tokens(const engine::Llm& llm, const ChatRequest& req, const std::string& model_name) {
  const model::ChatTemplate tmpl(model::chat_template_for(*llm.file));
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

namespace {

// Maps a refused admission to its ApiError (counting the rejection); returns the stream of
// an accepted one.
std::shared_ptr<engine::RequestStream> admitted_stream(ServerContext& ctx, const std::string& model_name,
                                                       engine::Admission admission) {
  auto reject = [&](const char* reason) {
    ctx.metrics.inc("ragd_requests_rejected_total", {{"model", model_name}, {"reason", reason}});
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
  return std::move(admission.stream);
}

// Throws ApiError(400) naming the first field of `params` an upstream model cannot honour.
void check_upstream_params(const GenerationParams& params, const std::string& model_name) {
  auto refuse = [&](const std::string& field, const char* why) {
    throw bad_request(fmt::format("'{}' is not supported for model '{}', which is served by an upstream server: {}",
                                  field, model_name, why),
                      field);
  };
  for (const auto& field : engine::UpstreamModel::unsupported_fields(params.options)) {
    if (field == "logprobs") refuse(field, "token log-probabilities come from ragd's sampler");
    if (field == "response_format" || field == "grammar") refuse(field, "the constraint runs inside ragd's sampler");
    if (field == "logit_bias") refuse(field, "ragd does not know the upstream's vocabulary");
    refuse(field, "the upstream has no equivalent");
  }
  if (params.priority != GenerationParams{}.priority) refuse("priority", "it orders ragd's own queue only");
}

Generation start_upstream_generation(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                                     engine::UpstreamPrompt prompt, const GenerationParams& params,
                                     const std::string& user, const std::string& endpoint) {
  Generation g;
  g.model_name = model->spec.name;
  g.quantization = ctx.quantization(g.model_name);
  g.endpoint = endpoint;
  check_upstream_params(params, g.model_name);
  engine::UpstreamRequest request;
  request.prompt = std::move(prompt);
  request.options = params.options;
  request.user = params.user;
  ctx.active_users.touch(user);
  g.stream = admitted_stream(ctx, g.model_name, model->upstream->submit(std::move(request)));
  g.model = std::move(model);
  return g;
}

}  // namespace

PromptInput chat_input(const ChatRequest& req) {
  PromptInput in;
  in.tokens = [&req](const engine::LoadedModel& m) { return chat_request_prompt_tokens(*m.llm, req, m.spec.name); };
  in.upstream = [&req](const engine::LoadedModel& m) {
    if (req.tools.active() || req.tool_turns) {
      const char* what = req.tools.active() ? "tools" : "messages";
      throw bad_request(fmt::format("'{}': tool calls are not supported for model '{}', which is served by an "
                                    "upstream server (ragd parses tool calls from its own models' output)",
                                    what, m.spec.name),
                        what);
    }
    return engine::UpstreamPrompt{engine::UpstreamApi::Chat, req.messages, ""};
  };
  return in;
}

PromptInput completion_input(const std::string& prompt) {
  PromptInput in;
  in.tokens = [prompt](const engine::LoadedModel& m) { return completion_prompt_tokens(*m.llm, prompt); };
  in.upstream = [prompt](const engine::LoadedModel&) {
    return engine::UpstreamPrompt{engine::UpstreamApi::Completion, {}, prompt};
  };
  return in;
}

PromptInput messages_input(std::vector<model::ChatMessage> messages, std::vector<int32_t> tokens) {
  PromptInput in;
  in.tokens = [tokens = std::move(tokens)](const engine::LoadedModel&) { return tokens; };
  in.upstream = [messages = std::move(messages)](const engine::LoadedModel&) {
    return engine::UpstreamPrompt{engine::UpstreamApi::Chat, messages, ""};
  };
  return in;
}

const engine::Llm& local_llm(const engine::LoadedModel& model, const std::string& what) {
  if (!model.llm) {
    throw bad_request(fmt::format("model '{}' is served by an upstream server; {} needs a model that runs in ragd",
                                  model.spec.name, what),
                      "model");
  }
  return *model.llm;
}

namespace {

// A local model's request, checked as far as the scheduler does not check it itself.
engine::GenerationRequest local_request(ServerContext& ctx, const engine::LoadedModel& model, std::vector<int32_t> prompt,
                                        const GenerationParams& params, const std::string& user) {
  const engine::Llm& llm = local_llm(model, "a prompt of token ids");
  if (prompt.empty()) throw bad_request("the prompt is empty", "prompt");
  check_logit_bias(params.options.sampling, llm.tokenizer->vocab_size());
  check_stop_token_ids(params.options, llm.tokenizer->vocab_size());
  engine::GenerationRequest request;
  request.prompt = std::move(prompt);
  request.options = params.options;
  request.priority = params.priority;
  request.user = user;
  ctx.active_users.touch(user);
  return request;
}

}  // namespace

Generation start_generation(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                            std::vector<int32_t> prompt, const GenerationParams& params,
                            const std::string& user, const std::string& endpoint) {
  Generation g;
  g.model_name = model->spec.name;
  g.quantization = ctx.quantization(g.model_name);
  g.endpoint = endpoint;
  auto request = local_request(ctx, *model, std::move(prompt), params, user);
  g.stream = admitted_stream(ctx, g.model_name, model->scheduler->submit(std::move(request)));
  g.model = std::move(model);
  return g;
}

Generation start_generation(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model, const PromptInput& prompt,
                            const GenerationParams& params, const std::string& user, const std::string& endpoint) {
  if (model->upstream) {
    auto upstream_prompt = prompt.upstream(*model);
    return start_upstream_generation(ctx, std::move(model), std::move(upstream_prompt), params, user, endpoint);
  }
  auto tokens = prompt.tokens(*model);
  return start_generation(ctx, std::move(model), std::move(tokens), params, user, endpoint);
}

std::vector<std::shared_ptr<Generation>> start_generations(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                                                           const std::vector<int32_t>& prompt, const GenerationParams& params,
                                                           const std::string& user, const std::string& endpoint) {
  const size_t n = std::max<size_t>(params.n, 1);
  std::vector<uint64_t> seeds(n);
  for (size_t i = 0; i < n; ++i) seeds[i] = choice_seed(params.options.sampling.seed, i);
  auto request = local_request(ctx, *model, prompt, params, user);
  const std::string name = model->spec.name;
  // All or nothing in the scheduler: a refusal (thrown here) queued none of the choices.
  engine::Admission admission = model->scheduler->submit_choices(std::move(request), seeds);
  admitted_stream(ctx, name, admission);
  std::vector<std::shared_ptr<Generation>> out;
  for (auto& stream : admission.choices) {
    auto g = std::make_shared<Generation>();
    g->model = model;
    g->stream = std::move(stream);
    g->model_name = name;
    g->quantization = ctx.quantization(name);
    g->endpoint = endpoint;
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<std::shared_ptr<Generation>> start_generations(ServerContext& ctx, std::shared_ptr<engine::LoadedModel> model,
                                                           const PromptInput& prompt, const GenerationParams& params,
                                                           const std::string& user, const std::string& endpoint) {
  if (!model->upstream) return start_generations(ctx, model, prompt.tokens(*model), params, user, endpoint);
  const engine::UpstreamPrompt upstream_prompt = prompt.upstream(*model);
  std::vector<std::shared_ptr<Generation>> out;
  const size_t n = std::max<size_t>(params.n, 1);
  try {
    for (size_t i = 0; i < n; ++i) {
      GenerationParams choice = params;
      choice.options.sampling.seed = choice_seed(params.options.sampling.seed, i);
      out.push_back(std::make_shared<Generation>(
          start_upstream_generation(ctx, model, upstream_prompt, choice, user, endpoint)));
    }
  } catch (...) {
    for (auto& g : out) {  // all or nothing, as for a local model
      g->stream->cancel();
      g->stream->wait_all();
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
