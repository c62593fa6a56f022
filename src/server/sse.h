// Server-Sent Events over an httplib chunked response.
//
// Wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html):
//   data: {json}\n\n                 an unnamed event (OpenAI chunks)
//   event: retrieval\ndata: {json}\n\n   a named event (ragd's RAG stream)
//   data: [DONE]\n\n                 OpenAI's end-of-stream marker
// JSON is dumped on one line (no raw newlines), so each event is one `data:` line.
//
// Client disconnects: once a write fails the writer stays failed (ok() false) and every
// later write is a no-op; pump_stream() then cancels the RequestStream so the scheduler
// frees the sequence at its next step, instead of generating for nobody.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/request_stream.h"

namespace ragd::server {

class SseWriter {
 public:
  explicit SseWriter(httplib::DataSink& sink) : sink_(sink) {}

  bool data(const nlohmann::json& payload);
  bool event(std::string_view name, const nlohmann::json& payload);
  bool done();  // data: [DONE]
  // An SSE comment line; clients ignore it. Used as a keep-alive that also detects a
  // client that went away while its request waits in the queue.
  bool comment(std::string_view text);
  bool ok() const { return ok_; }

 private:
  bool write(const std::string& text);
  httplib::DataSink& sink_;
  bool ok_ = true;
};

// Pulls text from `stream` until it finishes, handing each non-empty piece to `on_text`
// (which writes it; returning false means the client is gone). While no text arrives,
// `on_idle` is called every `idle_every` (returning false: the client is gone). Returns
// false, after cancelling the stream, when the client went away; true when the stream
// finished. Any streaming format (SSE below, Ollama's NDJSON) is pumped by this loop.
bool pump_text(engine::RequestStream& stream, const std::function<bool(std::string_view)>& on_text,
               const std::function<bool()>& on_idle, std::chrono::milliseconds idle_every);

// pump_text for SSE: a keep-alive comment every `keep_alive` while no text arrives.
bool pump_stream(engine::RequestStream& stream, SseWriter& sse,
                 const std::function<bool(std::string_view)>& on_text,
                 std::chrono::milliseconds keep_alive = std::chrono::milliseconds(1000));

// SSE response headers: no caching, no proxy buffering.
void set_sse_headers(httplib::Response& res);

}  // namespace ragd::server
