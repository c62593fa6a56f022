// UpstreamModel (see upstream_model.h).
//
// Threads. Every admitted request runs on a detached thread of its own that holds the
// Shared state; `active` counts them and `clients` holds their HTTP clients, so that the
// destructor can cancel their streams, interrupt their sockets (httplib::Client::stop) and
// wait for `active` to reach zero. The health thread sleeps on `cv` between probe rounds.
#include "engine/upstream_model.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "engine/stop_matcher.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sse_parser.h"

namespace ragd::engine {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t, Clock::time_point now = Clock::now()) {
  return std::chrono::duration<double>(now - t).count();
}

void set_timeouts(httplib::Client& c, double connect, double read) {
  auto us = [](double s) { return std::chrono::microseconds(static_cast<int64_t>(s * 1e6)); };
  c.set_connection_timeout(us(connect));
  c.set_read_timeout(us(read));
  c.set_write_timeout(us(std::max(connect, 5.0)));
}

// float settings as the user typed them (0.8, not 0.800000011920929).
double tidy(float v) { return std::round(static_cast<double>(v) * 1e6) / 1e6; }

// The message of an OpenAI-style error body ({"error": {"message": …}}), else the body.
std::string error_message(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    if (e.is_string()) return e.get<std::string>();
  }
  std::string s = body.substr(0, 300);
  return s.empty() ? "(no body)" : s;
}

// How one attempt on one upstream ended.
enum class Outcome {
  Done,            // the stream completed (or a stop string ended it here)
  UpstreamFailed,  // connection / timeout / 5xx / cut stream: take the upstream out
  Refused,         // HTTP 4xx: the request is wrong; the upstream stays in
  StreamError,     // an "error" event in the stream
  Cancelled,       // the client went away
};

}  // namespace

struct UpstreamModel::Shared {
  std::string name;
  std::vector<UpstreamEndpoint> endpoints;
  UpstreamOptions options;
  UpstreamBalancer balancer;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  size_t active = 0;                            // request threads alive
  std::set<httplib::Client*> clients;           // their clients, while sending
  std::set<std::shared_ptr<RequestStream>> streams;  // their streams, to cancel at shutdown
  std::thread health;

  Shared(std::string n, std::vector<UpstreamEndpoint> e, UpstreamOptions o)
      : name(std::move(n)), endpoints(std::move(e)), options(o), balancer(urls(endpoints), o.health) {}

  static std::vector<std::string> urls(const std::vector<UpstreamEndpoint>& e) {
    std::vector<std::string> out;
    for (const auto& x : e) out.push_back(x.url);
    return out;
  }
  const std::string& model_id(size_t i) const { return endpoints[i].model_id.empty() ? name : endpoints[i].model_id; }

  // --- health ---------------------------------------------------------------------------

  void health_loop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      for (size_t i : balancer.due_probes(Clock::now())) {
        const auto sent = Clock::now();
        std::string why = probe(i);
        const bool was_up = balancer.status()[i].up;
        if (why.empty()) {
          balancer.probe_succeeded(i, sent);
          if (!was_up && balancer.status()[i].up) {
            log::info("upstream model '{}': {} is back in rotation", name, endpoints[i].url);
          }
        } else {
          balancer.probe_failed(i, why, Clock::now());
          if (was_up) log::warn("upstream model '{}': {} taken out of rotation: {}", name, endpoints[i].url, why);
        }
      }
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping; });
    }
  }

  // GET PATH/models; "" when it answered 200, else why not.
  std::string probe(size_t i) {
    const auto& e = endpoints[i];
    httplib::Client c(e.origin);
    set_timeouts(c, options.probe_timeout, options.probe_timeout);
    auto res = c.Get(e.base_path + "/models");
    if (!res) return "probe GET " + e.base_path + "/models: " + httplib::to_string(res.error());
    if (res->status != 200) return fmt::format("probe GET {}/models: HTTP {}", e.base_path, res->status);
    return "";
  }

  // --- requests -------------------------------------------------------------------------

  // One request from admission to its summary. `admit` is set exactly once.
  struct Run {
    UpstreamRequest request;
    std::shared_ptr<RequestStream> stream;
    std::promise<Admission> admit;
    bool admitted = false;
    Clock::time_point start = Clock::now();
    // What the client has been given: once text went out, no retry.
    bool pushed = false;
    GenerationSummary summary;
    std::optional<Clock::time_point> first_token, last_token;

    void accept() {
      if (admitted) return;
      admitted = true;
      Admission a;
      a.status = AdmitStatus::Accepted;
      a.stream = stream;
      admit.set_value(std::move(a));
    }
    void refuse(AdmitStatus status, std::string message, double retry_after = 0) {
      if (admitted) return;
      admitted = true;
      Admission a;
      a.status = status;
      a.message = std::move(message);
      a.retry_after_seconds = retry_after;
      admit.set_value(std::move(a));
    }
  };

  // One attempt on upstream `i`. Pushes text to the stream; fills run.summary's counts.
  Outcome attempt(Run& run, size_t i, std::string& error) {
    const auto& e = endpoints[i];
    const bool chat = run.request.prompt.api == UpstreamApi::Chat;
    httplib::Client client(e.origin);
    set_timeouts(client, options.connect_timeout, options.read_timeout);
    {
      std::lock_guard lock(mu);
      if (stopping) {
        error = "the server is shutting down";
        return Outcome::Cancelled;
      }
      clients.insert(&client);
    }
    struct Unregister {
      Shared& s;
      httplib::Client* c;
      ~Unregister() {
        std::lock_guard lock(s.mu);
        s.clients.erase(c);
      }
    } unregister{*this, &client};

    StopMatcher matcher(run.request.options.stop, run.request.options.stop_after);
    SseParser parser;
    int status = 0;
    std::string error_body;
    bool done = false, local_stop = false, cancelled = false;
    std::string finish_reason, stream_error;
    std::optional<json> usage;
    size_t chunks = 0;

    auto on_event = [&](const std::string& data) {
      if (data == "[DONE]") {
        done = true;
        return false;
      }
      json j = json::parse(data, nullptr, false);
      if (!j.is_object()) {
        stream_error = "unparsable event from the upstream: " + data.substr(0, 200);
        return false;
      }
      if (j.contains("error") && !j["error"].is_null()) {
        stream_error = "the upstream failed: " + error_message(data);
        return false;
      }
      if (j.contains("usage") && j["usage"].is_object()) usage = j["usage"];
      if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
      const json& c = j["choices"][0];
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) finish_reason = c["finish_reason"];
      const json* piece = nullptr;
      if (chat && c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content")) piece = &c["delta"]["content"];
      if (!chat && c.contains("text")) piece = &c["text"];
      if (!piece || !piece->is_string() || piece->get_ref<const std::string&>().empty()) return true;
      const auto now = Clock::now();
      if (!run.first_token) run.first_token = now;
      run.last_token = now;
      ++chunks;
      std::string out = matcher.push(piece->get_ref<const std::string&>());
      if (!out.empty()) {
        run.stream->push(out);
        run.pushed = true;
      }
      if (matcher.stopped()) {
        local_stop = true;
        return false;
      }
      return true;
    };

    httplib::Request req;
    req.method = "POST";
    req.path = e.base_path + (chat ? "/chat/completions" : "/completions");
    req.body = request_body(run.request, model_id(i)).dump(-1, ' ', false, json::error_handler_t::replace);
    req.set_header("Content-Type", "application/json");
    req.set_header("Accept", "text/event-stream");
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      if (status == 200) run.accept();
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (run.stream->cancelled_.load(std::memory_order_relaxed)) {
        cancelled = true;
        return false;
      }
      if (status != 200) {
        if (error_body.size() < 65536) error_body.append(data, len);
        return true;
      }
      return parser.feed(std::string_view(data, len), on_event);
    };
    auto res = client.send(req);
    if (status == 200 && !done && !local_stop && stream_error.empty() && !cancelled && res) {
      parser.finish(on_event);  // a last event without its blank line
    }

    run.summary.completion_tokens = chunks;
    if (usage) {
      run.summary.prompt_tokens = usage->value("prompt_tokens", size_t{0});
      if (!local_stop) run.summary.completion_tokens = usage->value("completion_tokens", chunks);
      if (usage->contains("prompt_tokens_details") && (*usage)["prompt_tokens_details"].is_object()) {
        run.summary.cached_prompt_tokens = (*usage)["prompt_tokens_details"].value("cached_tokens", size_t{0});
      }
    }
    if (cancelled) return Outcome::Cancelled;
    if (local_stop) {
      run.summary.finish = FinishReason::Stop;
      return Outcome::Done;
    }
    if (!stream_error.empty()) {
      error = stream_error;
      return Outcome::StreamError;
    }
    if (status != 0 && status != 200) {
      error = fmt::format("HTTP {}: {}", status, error_message(error_body));
      return status >= 400 && status < 500 && status != 408 && status != 429 ? Outcome::Refused
                                                                              : Outcome::UpstreamFailed;
    }
    if (!done && finish_reason.empty()) {
      error = res ? std::string("the stream ended before its end")
                  : std::string("POST ") + req.path + ": " + httplib::to_string(res.error());
      return Outcome::UpstreamFailed;
    }
    std::string rest = matcher.flush();
    if (!rest.empty()) {
      run.stream->push(rest);
      run.pushed = true;
    }
    run.summary.finish = finish_reason == "length" ? FinishReason::Length : FinishReason::Stop;
    return Outcome::Done;
  }

  void finish(Run& run, FinishReason reason, std::string error) {
    auto& s = run.summary;
    s.finish = reason;
    s.error = std::move(error);
    if (run.first_token) {
      s.ttft_seconds = seconds_since(run.start, *run.first_token);
      s.prefill_seconds = s.ttft_seconds;
      s.decode_seconds = seconds_since(*run.first_token, *run.last_token);
    }
    run.stream->finish(s);
  }

  // The request thread: attempts until one upstream completes it or none is left.
  void run_request(Run& run) {
    std::vector<size_t> tried;
    std::string last_error = "no upstream is in rotation";
    while (auto i = balancer.acquire(tried)) {
      tried.push_back(*i);
      std::string error;
      const Outcome o = attempt(run, *i, error);
      balancer.release(*i);
      const std::string where = fmt::format("upstream {} of model '{}'", endpoints[*i].url, name);
      switch (o) {
        case Outcome::Done:
          finish(run, run.summary.finish, "");
          return;
        case Outcome::Cancelled:
          if (!run.admitted) run.refuse(AdmitStatus::Overloaded, "the server is shutting down", 1);
          finish(run, FinishReason::Cancelled, "");
          return;
        case Outcome::Refused:
          if (!run.admitted) {
            run.refuse(AdmitStatus::Invalid, where + " refused the request: " + error);
          } else {
            finish(run, FinishReason::Error, where + " refused the request: " + error);
          }
          return;
        case Outcome::StreamError:
          run.accept();
          finish(run, FinishReason::Error, where + ": " + error);
          return;
        case Outcome::UpstreamFailed:
          balancer.request_failed(*i, error, Clock::now());
          log::warn("{} failed{}: {}; taken out of rotation", where, run.pushed ? " mid-stream" : "", error);
          last_error = where + ": " + error;
          if (run.pushed) {
            finish(run, FinishReason::Error, last_error + " (after part of the answer was sent)");
            return;
          }
          run.summary = GenerationSummary{};
          run.first_token.reset();
          run.last_token.reset();
          continue;  // nothing went out: the next upstream gets the request
      }
    }
    const std::string message = fmt::format("no upstream of model '{}' could take the request ({})", name, last_error);
    if (!run.admitted) {
      run.refuse(AdmitStatus::Overloaded, message, std::max(1.0, balancer.seconds_until_retry(Clock::now())));
    } else {
      finish(run, FinishReason::Error, message);
    }
  }
};

UpstreamModel::UpstreamModel(std::string name, std::vector<UpstreamEndpoint> endpoints, UpstreamOptions options)
    : shared_(std::make_shared<Shared>(std::move(name), std::move(endpoints), options)) {
  shared_->health = std::thread([s = shared_.get()] { s->health_loop(); });
}

UpstreamModel::~UpstreamModel() {
  auto& s = *shared_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
    for (auto& st : s.streams) st->cancel();
    for (auto* c : s.clients) c->stop();
  }
  s.cv.notify_all();
  s.health.join();
  // Streams are cancelled and sockets shut; a thread that registered its client after the
  // round above (or was still connecting) is stopped by the next one.
  std::unique_lock lock(s.mu);
  while (s.active > 0) {
    for (auto* c : s.clients) c->stop();
    s.cv.wait_for(lock, std::chrono::milliseconds(50));
  }
}

const std::string& UpstreamModel::name() const { return shared_->name; }

std::vector<UpstreamEndpointStatus> UpstreamModel::status() const { return shared_->balancer.status(); }

Admission UpstreamModel::submit(UpstreamRequest request) {
  Admission refused;
  const auto unsupported = unsupported_fields(request.options);
  if (!unsupported.empty()) {
    refused.status = AdmitStatus::Invalid;
    refused.message = fmt::format("'{}' is not supported for model '{}': it is served by an upstream server and "
                                  "ragd cannot forward it faithfully",
                                  unsupported.front(), shared_->name);
    return refused;
  }
  auto run = std::make_shared<Shared::Run>();
  run->request = std::move(request);
  run->stream = std::make_shared<RequestStream>();
  auto admitted = run->admit.get_future();
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->stopping) {
      refused.status = AdmitStatus::Overloaded;
      refused.message = "the server is shutting down";
      refused.retry_after_seconds = 1;
      return refused;
    }
    if (shared_->active >= shared_->options.max_concurrent) {
      refused.status = AdmitStatus::Overloaded;
      refused.message = fmt::format("model '{}' has {} requests in flight (its limit); retry later", shared_->name,
                                    shared_->active);
      refused.retry_after_seconds = 1;
      return refused;
    }
    ++shared_->active;
    shared_->streams.insert(run->stream);
  }
  std::thread worker;
  try {
    worker = std::thread([s = shared_, run] {
      try {
        s->run_request(*run);
      } catch (const std::exception& e) {
        // No exception crosses threads: an unexpected one fails this request only.
        if (!run->admitted) run->refuse(AdmitStatus::Overloaded, e.what(), 1);
        if (!run->stream->finished()) s->finish(*run, FinishReason::Error, e.what());
      }
      std::lock_guard lock(s->mu);
      s->streams.erase(run->stream);
      --s->active;
      s->cv.notify_all();
    });
  } catch (const std::system_error& e) {  // no thread to be had: refuse, as when overloaded
    std::lock_guard lock(shared_->mu);
    shared_->streams.erase(run->stream);
    --shared_->active;
    refused.status = AdmitStatus::Overloaded;
    refused.message = fmt::format("cannot start a request thread: {}", e.what());
    refused.retry_after_seconds = 1;
    return refused;
  }
  worker.detach();
  return admitted.get();
}

std::vector<std::string> UpstreamModel::unsupported_fields(const GenerationOptions& o) {
  std::vector<std::string> out;
  if (o.logprobs >= 0) out.push_back("logprobs");
  if (o.json_constraint) out.push_back("response_format");
  if (o.grammar) out.push_back("grammar");
  if (!o.sampling.logit_bias.empty()) out.push_back("logit_bias");
  if (o.sampling.repeat_last_n != SamplingParams{}.repeat_last_n) out.push_back("repeat_last_n");
  return out;
}

json UpstreamModel::request_body(const UpstreamRequest& r, const std::string& model_id) {
  const auto& o = r.options;
  const auto& s = o.sampling;
  json body = {{"model", model_id},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"max_tokens", o.max_tokens},
               {"temperature", tidy(s.temperature)},
               {"top_p", tidy(s.top_p)},
               {"top_k", s.top_k},
               {"min_p", tidy(s.min_p)},
               // 63 bits: servers read the seed as a signed 64-bit integer.
               {"seed", s.seed & 0x7fffffffffffffffULL}};
  if (r.prompt.api == UpstreamApi::Chat) {
    json messages = json::array();
    for (const auto& m : r.prompt.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    body["messages"] = std::move(messages);
  } else {
    body["prompt"] = r.prompt.text;
  }
  if (!o.stop.empty()) body["stop"] = o.stop;
  if (s.frequency_penalty != 0) body["frequency_penalty"] = tidy(s.frequency_penalty);
  if (s.presence_penalty != 0) body["presence_penalty"] = tidy(s.presence_penalty);
  if (s.repeat_penalty != 1) body["repetition_penalty"] = tidy(s.repeat_penalty);
  if (!o.stop_token_ids.empty()) body["stop_token_ids"] = o.stop_token_ids;
  if (o.ignore_eos) body["ignore_eos"] = true;
  if (!r.user.empty()) body["user"] = r.user;
  return body;
}

}  // namespace ragd::engine
