// RequestStream (engine/request_stream.h): the hand-off between the scheduler thread,
// which pushes text and the final summary, and the client thread, which takes them.
#include <utility>

#include "engine/request_stream.h"

namespace ragd::engine {

namespace {
void move_logprobs(std::vector<TokenLogprobs>& from, std::vector<TokenLogprobs>* to) {
  if (!to) return;
  for (auto& lp : from) to->push_back(std::move(lp));
  from.clear();
}
}  // namespace

bool RequestStream::next(std::string& text, std::chrono::milliseconds timeout,
                         std::vector<TokenLogprobs>* logprobs) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !pending_.empty() || done_; });
  move_logprobs(pending_logprobs_, logprobs);
  if (!pending_.empty()) {
    text += pending_;
    pending_.clear();
    return true;
  }
  return !done_;
}

std::string RequestStream::wait_all(std::vector<TokenLogprobs>* logprobs) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_; });
  move_logprobs(pending_logprobs_, logprobs);
  return std::exchange(pending_, {});
}

void RequestStream::cancel() { cancelled_.store(true, std::memory_order_relaxed); }

bool RequestStream::finished() const {
  std::lock_guard lock(mu_);
  return done_;
}

GenerationSummary RequestStream::summary() const {
  std::lock_guard lock(mu_);
  return summary_;
}

void RequestStream::push(std::string_view text, TokenLogprobs* logprobs) {
  if (text.empty() && !logprobs) return;
  {
    std::lock_guard lock(mu_);
    pending_ += text;
    if (logprobs) pending_logprobs_.push_back(std::move(*logprobs));
  }
  if (!text.empty()) cv_.notify_all();  // logprobs alone wait for their text (or the end)
}

void RequestStream::update(const GenerationSummary& summary) {
  std::lock_guard lock(mu_);
  summary_ = summary;
}

void RequestStream::finish(const GenerationSummary& summary) {
  {
    std::lock_guard lock(mu_);
    summary_ = summary;
    done_ = true;
  }
  cv_.notify_all();
}

}  // namespace ragd::engine
