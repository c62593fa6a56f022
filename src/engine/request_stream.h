// RequestStream and Admission: the caller's end of a served request. A request is admitted
// (Admission: accepted with its stream, or refused with a reason) and then read as a
// RequestStream: text pieces in order, then a GenerationSummary. The serving scheduler
// (engine/scheduler.h) and upstream servers (engine/upstream_model.h) both answer this way.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generation_request.h"
#include "engine/sampler.h"  // TokenLogprobs

namespace ragd::engine {

// The client's end of one request: text pieces in order, then a summary. With
// GenerationOptions::logprobs, each token's logprobs are queued with the text it produced
// (under one lock, so a caller never sees a token's text before its logprobs); a token whose
// text a stop string still holds back has its logprobs ahead of its text.
class RequestStream {
 public:
  // Waits up to `timeout` for more text. Appends what arrived to `text` and, when
  // `logprobs` is given, the logprobs queued so far (possibly without text); returns false
  // once the request has finished and every piece has been taken.
  bool next(std::string& text, std::chrono::milliseconds timeout, std::vector<TokenLogprobs>* logprobs = nullptr);
  // Blocks until finished; returns the whole remaining text (and appends the remaining
  // logprobs to `logprobs` when given).
  std::string wait_all(std::vector<TokenLogprobs>* logprobs = nullptr);
  // Asks the producer to stop this request at its next step (client went away).
  void cancel();
  bool finished() const;
  GenerationSummary summary() const;  // final once finished()

 private:
  friend class Scheduler;      // engine/scheduler.h
  friend class UpstreamModel;  // engine/upstream_model.h: the same role for upstream servers
  void push(std::string_view text, TokenLogprobs* logprobs = nullptr);  // producer thread
  void finish(const GenerationSummary& summary);    // producer thread
  void update(const GenerationSummary& summary);    // producer thread

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  std::vector<TokenLogprobs> pending_logprobs_;
  bool done_ = false;
  GenerationSummary summary_;
  std::atomic<bool> cancelled_{false};
};

enum class AdmitStatus { Accepted, Overloaded, UserLimit, TooLong, Invalid };

struct Admission {
  AdmitStatus status = AdmitStatus::Accepted;
  std::shared_ptr<RequestStream> stream;  // set when Accepted (submit_choices: choice 0's)
  std::vector<std::shared_ptr<RequestStream>> choices;  // submit_choices: one per choice
  std::string message;                    // why not, for the error body
  double retry_after_seconds = 0;         // for Overloaded / UserLimit
};

}  // namespace ragd::engine
