// UpstreamModel: a language model in ragd's registry whose tokens come from other servers —
// OpenAI-compatible ones (vLLM, llama-server, another ragd) — instead of a local Scheduler.
//
// Design. ragd keeps everything around generation (RAG retrieval and prompts, caches,
// citations, auth, metrics, the web and API surface); only decoding moves out. The seam is
// the one every generation already goes through: a request is *admitted* (engine::Admission)
// and then read as an engine::RequestStream (text pieces, then a GenerationSummary). A local
// model admits on its Scheduler from token ids; an upstream model admits here from the
// request before tokenization (chat messages or completion text, UpstreamPrompt), because
// the upstream applies its own chat template and tokenizer. So the server's streaming and
// non-streaming paths, its metrics and RAG answers consume both kinds unchanged; the
// registry's LoadedModel carries either a scheduler or an UpstreamModel.
//
// A request: submit() picks an upstream (engine/upstream_balancer.h: least in flight among
// those in rotation), POSTs PATH/chat/completions (or PATH/completions) with stream: true
// and stream_options.include_usage, and returns once the upstream has answered HTTP 200
// (Accepted) or every upstream has failed (Overloaded: HTTP 503 with a Retry-After of the
// nearest probe) or an upstream refused the request (HTTP 4xx: Invalid, its message quoted;
// the upstream stays in rotation — the request was wrong, not the server). The SSE chunks
// are read on a thread of the request's own and pushed to its RequestStream.
//
// Failover. A connection error, a timeout, an HTTP 5xx, 408 or 429 (an overloaded upstream),
// or a stream cut before its end takes the upstream out of rotation
// (it returns after a successful probe, GET PATH/models) and, as long as no text has been
// pushed to the stream, the request is sent again to the next upstream it has not tried. Once
// text has been pushed the request cannot be replayed invisibly, so it finishes with
// FinishReason::Error and the failure's reason (the client's stream ends with an error
// event). An "error" event inside an upstream's stream ends the request the same way, but
// leaves the upstream in rotation: one request failed, not the server.
//
// Fields. What maps 1:1 onto the OpenAI API (and vLLM / llama-server / ragd's extensions) is
// forwarded: max_tokens, temperature, top_p, top_k, min_p, seed, stop, frequency_penalty,
// presence_penalty, repetition_penalty, stop_token_ids, ignore_eos (the last four only when
// set, so a server that lacks them is not sent them). Stop strings are also applied here
// (engine/stop_matcher.h), as are ragd's kept stops (stop_after, which RAG answers use and no
// upstream knows), so the text ends exactly where a local model's would. What cannot be
// forwarded faithfully — logprobs (token ids of another vocabulary), response_format and
// grammar (their constraints run inside ragd's sampler), logit_bias (ids of a vocabulary ragd does not
// have), repeat_last_n (no upstream has the window) — is named by unsupported_fields(), and
// the server refuses those requests with a 400 naming the field.
//
// Threads and lifetime: submit(), status() and the streams are safe from any thread. A
// health thread probes the upstreams (UpstreamBalancer::due_probes). The destructor cancels
// and interrupts every request in flight and waits for their threads.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "engine/generation_request.h"
#include "engine/request_stream.h"
#include "engine/upstream_balancer.h"
#include "engine/upstream_endpoint.h"
#include "model/chat_template.h"

namespace ragd::engine {

struct UpstreamOptions {
  UpstreamHealthOptions health;
  double connect_timeout = 3;   // s to connect to an upstream
  double read_timeout = 300;    // s an upstream may stay silent (a long prefill) before it fails
  double probe_timeout = 2;     // s a probe may take
  size_t max_concurrent = 100;  // requests in flight to this model; beyond: Overloaded
};

enum class UpstreamApi { Chat, Completion };

// A prompt as the upstream receives it: chat messages (its chat template applies) or a raw
// completion prompt.
struct UpstreamPrompt {
  UpstreamApi api = UpstreamApi::Chat;
  std::vector<model::ChatMessage> messages;  // Chat
  std::string text;                          // Completion
};

struct UpstreamRequest {
  UpstreamPrompt prompt;
  GenerationOptions options;
  std::string user;  // forwarded as OpenAI's `user` when not empty
};

class UpstreamModel {
 public:
  // `name`: the model's name in ragd (the upstream's model id where an endpoint has none).
  // Starts the health thread; the first probe of every upstream runs at once.
  UpstreamModel(std::string name, std::vector<UpstreamEndpoint> endpoints, UpstreamOptions options);
  ~UpstreamModel();
  UpstreamModel(const UpstreamModel&) = delete;
  UpstreamModel& operator=(const UpstreamModel&) = delete;

  // Blocks until an upstream has accepted the request or none will (see above). Never throws
  // for an upstream's failure; Invalid when unsupported_fields() is not empty.
  Admission submit(UpstreamRequest request);
  std::vector<UpstreamEndpointStatus> status() const;
  const std::string& name() const;

  // The request fields of `options` that ragd cannot forward faithfully, by their API names
  // ("logprobs", "response_format", "grammar", "logit_bias", "repeat_last_n"); empty when
  // all can be.
  static std::vector<std::string> unsupported_fields(const GenerationOptions& options);
  // The JSON body sent to an upstream for `request` (stream: true), asking for `model_id`.
  static nlohmann::json request_body(const UpstreamRequest& request, const std::string& model_id);

 private:
  struct Shared;  // state the request and health threads share (upstream_model.cpp)
  std::shared_ptr<Shared> shared_;
};

}  // namespace ragd::engine
