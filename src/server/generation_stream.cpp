#include "server/generation_stream.h"

#include "server/sse.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// Writes JSON chunks in one framing; once a write fails every later one is a no-op.
class ChunkWriter {
 public:
  ChunkWriter(httplib::DataSink& sink, StreamFormat format) : sink_(sink), sse_(sink), format_(format) {}

  bool chunk(const json& payload) {
    if (format_ == StreamFormat::Sse) return sse_.data(payload);
    if (!ok_) return false;
    std::string line = payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    ok_ = sink_.is_writable() && sink_.write(line.data(), line.size());
    return ok_;
  }
  // Called while no text arrives: true while the client is still there.
  bool idle() { return format_ == StreamFormat::Sse ? sse_.comment("keep-alive") : ok_ && sink_.is_writable(); }
  void end() {
    if (format_ == StreamFormat::Sse) sse_.done();
    sink_.done();
  }

 private:
  httplib::DataSink& sink_;
  SseWriter sse_;
  StreamFormat format_;
  bool ok_ = true;
};

// A shape's answer: one chunk, an array of chunks (possibly none), or null (none).
bool send(ChunkWriter& out, const json& payload) {
  if (payload.is_null()) return true;
  if (!payload.is_array()) return out.chunk(payload);
  for (const auto& chunk : payload) {
    if (!out.chunk(chunk)) return false;
  }
  return true;
}

// The state of one choice while its stream is pumped.
struct ChoiceState {
  bool open = true;       // text may still come
  bool recorded = false;  // finish_generation done
  std::vector<engine::TokenLogprobs> held;  // logprobs taken, not yet written
};

// Pumps every choice's text and writes the closing chunks; false when the client went
// away. With one choice this waits on it (50 ms at a time); with several it polls each in
// turn and waits briefly only while a round brings nothing, so no choice starves another.
bool write_choices(ServerContext& ctx, std::vector<std::shared_ptr<Generation>>& gens, const ChoiceStreamShape& shape,
                   ChunkWriter& out) {
  using std::chrono::milliseconds;
  const size_t n = gens.size();
  std::vector<ChoiceState> st(n);
  bool alive = true;
  for (size_t i = 0; i < n && alive && shape.first; ++i) {
    json first = shape.first(i);
    alive = first.is_null() || out.chunk(first);
  }
  auto abandon = [&] {
    // The client went away: cancel what runs, wait for the scheduler to retire it so the
    // summaries (and metrics) are final; it does so at its next step.
    for (auto& g : gens) g->stream->cancel();
    for (size_t i = 0; i < n; ++i) {
      if (st[i].recorded) continue;
      gens[i]->stream->wait_all();
      finish_generation(ctx, *gens[i]);
    }
    return false;
  };
  if (!alive) return abandon();
  std::vector<engine::GenerationSummary> summaries(n);
  size_t remaining = n;
  auto last_write = std::chrono::steady_clock::now();
  const milliseconds wait(n == 1 ? 50 : 10);
  while (remaining > 0) {
    bool wrote = false;  // text arrived this round
    bool sent = false;   // and bytes went out (a shape may hold text back: tool calls)
    for (size_t i = 0; i < n && alive; ++i) {
      ChoiceState& c = st[i];
      if (!c.open) continue;
      std::string text;
      const bool more = gens[i]->stream->next(text, wrote ? milliseconds(0) : wait, &c.held);
      if (!text.empty()) {
        json delta = shape.delta(i, text, c.held);
        sent = sent || !(delta.is_null() || (delta.is_array() && delta.empty()));
        alive = send(out, delta);
        c.held.clear();
        wrote = true;
      }
      if (more || !alive) continue;
      c.open = false;
      --remaining;
      summaries[i] = finish_generation(ctx, *gens[i]);
      c.recorded = true;
      try {
        throw_if_failed(summaries[i]);
      } catch (const ApiError& e) {
        // One failed choice fails the response: stop the others and end with the error.
        for (size_t j = 0; j < n; ++j) {
          if (st[j].recorded) continue;
          gens[j]->stream->cancel();
          gens[j]->stream->wait_all();
          finish_generation(ctx, *gens[j]);
          st[j].recorded = true;
        }
        out.chunk(shape.error ? shape.error(e) : e.body());
        return true;
      }
      alive = send(out, shape.final(i, summaries[i], c.held));
      c.held.clear();
      wrote = sent = true;
    }
    if (!alive) return abandon();
    const auto now = std::chrono::steady_clock::now();
    // Keep-alives also while text is held back, so a long held call still probes the client.
    if (sent) {
      last_write = now;
    } else if (remaining > 0 && now - last_write >= milliseconds(1000)) {
      if (!out.idle()) return abandon();
      last_write = now;
    }
  }
  if (shape.usage) {
    json u = shape.usage(summaries);
    if (!u.is_null()) out.chunk(u);
  }
  return true;
}

}  // namespace

void stream_choices(httplib::Response& res, ServerContext& ctx, std::vector<std::shared_ptr<Generation>> choices,
                    ChoiceStreamShape shape, StreamFormat format) {
  set_sse_headers(res);  // no caching, no proxy buffering: as right for NDJSON
  const char* type = format == StreamFormat::Sse ? "text/event-stream" : "application/x-ndjson";
  auto gens = std::make_shared<std::vector<std::shared_ptr<Generation>>>(std::move(choices));
  res.set_chunked_content_provider(
      type,
      [&ctx, gens, shape, format](size_t, httplib::DataSink& sink) {
        ChunkWriter out(sink, format);
        bool complete = write_choices(ctx, *gens, shape, out);
        if (complete) out.end();
        return complete;
      },
      [gens, shape](bool) {
        // Whatever happened to the connection, never leave a sequence running.
        for (auto& g : *gens) {
          if (!g->stream->finished()) g->stream->cancel();
        }
        if (shape.finished) shape.finished(*gens);
      });
}

void stream_generation(httplib::Response& res, ServerContext& ctx, std::shared_ptr<Generation> g, StreamShape shape,
                       StreamFormat format) {
  ChoiceStreamShape c;
  if (shape.first) c.first = [f = shape.first](size_t) { return f(); };
  c.delta = [d = shape.delta](size_t, const std::string& text, const std::vector<engine::TokenLogprobs>&) {
    return d(text);
  };
  c.final = [f = shape.final](size_t, const engine::GenerationSummary& s, const std::vector<engine::TokenLogprobs>&) {
    return f(s);
  };
  if (shape.usage) {
    c.usage = [u = shape.usage](const std::vector<engine::GenerationSummary>& s) { return u(s.front()); };
  }
  c.error = shape.error;
  if (shape.finished) {
    c.finished = [f = shape.finished](std::vector<std::shared_ptr<Generation>>& gens) { f(*gens.front()); };
  }
  stream_choices(res, ctx, {std::move(g)}, std::move(c), format);
}

}  // namespace ragd::server
