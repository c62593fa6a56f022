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

// Pumps the text and writes the closing chunks; false when the client went away.
bool write_stream(ServerContext& ctx, Generation& g, const StreamShape& shape, ChunkWriter& out) {
  json first = shape.first ? shape.first() : json();
  bool alive = first.is_null() || out.chunk(first);
  if (!alive) g.stream->cancel();
  bool finished = alive && pump_text(
                               *g.stream, [&](std::string_view text) { return out.chunk(shape.delta(std::string(text))); },
                               [&] { return out.idle(); }, std::chrono::milliseconds(1000));
  if (!finished) {
    // The client went away: the request is cancelled. Wait for the scheduler to retire it
    // so the summary (and metrics) are final; it does so at its next step.
    g.stream->wait_all();
    finish_generation(ctx, g);
    return false;
  }
  auto s = finish_generation(ctx, g);
  try {
    throw_if_failed(s);
  } catch (const ApiError& e) {
    out.chunk(shape.error ? shape.error(e) : e.body());
    return true;
  }
  out.chunk(shape.final(s));
  if (shape.usage) {
    json u = shape.usage(s);
    if (!u.is_null()) out.chunk(u);
  }
  return true;
}

}  // namespace

void stream_generation(httplib::Response& res, ServerContext& ctx, std::shared_ptr<Generation> g, StreamShape shape,
                       StreamFormat format) {
  set_sse_headers(res);  // no caching, no proxy buffering: as right for NDJSON
  const char* type = format == StreamFormat::Sse ? "text/event-stream" : "application/x-ndjson";
  res.set_chunked_content_provider(
      type,
      [&ctx, g, shape, format](size_t, httplib::DataSink& sink) {
        ChunkWriter out(sink, format);
        bool complete = write_stream(ctx, *g, shape, out);
        if (complete) out.end();
        return complete;
      },
      [g, shape](bool) {
        // Whatever happened to the connection, never leave the sequence running.
        if (!g->stream->finished()) g->stream->cancel();
        if (shape.finished) shape.finished(*g);
      });
}

}  // namespace ragd::server
