#include "server/ollama_pull.h"

#include <fmt/format.h>

#include <mutex>

#include "engine/model_pull.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/known_fields.h"
#include "server/ollama_request.h"
#include "server/request_parsing.h"
#include "server/sse.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// Thrown from the progress callback when the client has gone: it unwinds pull_model, which
// removes what it wrote. Not a std::exception, so no error handler mistakes it for a failure.
struct ClientGone {};

bool offered(ServerContext& ctx, const std::string& name, const engine::CatalogModel* entry) {
  return ctx.registry.contains(name) || (entry && ctx.registry.contains(entry->name));
}

// Installs `model` into the registry's model directory unless a pull that held the lock
// before us installed it. Throws ragd::Error (or what `progress` throws).
void install(ServerContext& ctx, const engine::CatalogModel& model, const engine::PullProgressFn& progress) {
  std::lock_guard lock(ctx.pull_mu);
  if (ctx.registry.contains(model.name)) return;
  engine::ModelPullOptions o;
  o.dir = ctx.registry.model_dir();
  o.progress = progress;
  const auto r = engine::pull_model(model, o);
  if (!ctx.registry.contains(model.name)) {
    fail("{} was installed as {} but the server cannot offer it (its log says why)", model.name, r.path);
  }
  log::info("/api/pull: {} {} ({} bytes, sha256 verified)", r.already_installed ? "found" : "installed", r.path,
            model.bytes);
}

// The NDJSON lines of one streamed pull.
class PullLines {
 public:
  PullLines(httplib::DataSink& sink, const engine::CatalogModel& model)
      : sink_(sink), file_(model.file_name()), digest_("sha256:" + model.sha256), step_(model.bytes / 100) {}

  // False once the client is gone; later lines are dropped.
  bool send(const json& line) {
    if (!ok_) return false;
    const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    ok_ = sink_.is_writable() && sink_.write(text.data(), text.size());
    return ok_;
  }

  // Throws ClientGone when a line cannot be written.
  void progress(const engine::PullProgress& p) {
    if (p.phase == engine::PullPhase::Verifying) return must_send({{"status", "verifying sha256 digest"}});
    const bool edge = p.phase == engine::PullPhase::Fetching || p.part_done;
    if (!edge && p.completed < sent_ + step_) return;  // a line per ~1 %, not per chunk
    sent_ = p.completed;
    must_send({{"status", "downloading " + file_}, {"digest", digest_}, {"total", p.total}, {"completed", p.completed}});
  }

 private:
  void must_send(const json& line) {
    if (!send(line)) throw ClientGone{};
  }

  httplib::DataSink& sink_;
  std::string file_, digest_;
  uint64_t step_;
  uint64_t sent_ = 0;  // `completed` of the last downloading line
  bool ok_ = true;
};

void stream_pull(ServerContext& ctx, httplib::Response& res, const engine::CatalogModel& model) {
  set_sse_headers(res);  // no caching, no proxy buffering: as right for NDJSON
  res.set_chunked_content_provider("application/x-ndjson", [&ctx, model](size_t, httplib::DataSink& sink) {
    PullLines out(sink, model);
    try {
      if (!out.send({{"status", "pulling manifest"}})) return false;
      install(ctx, model, [&out](const engine::PullProgress& p) { out.progress(p); });
      out.send({{"status", "success"}});
    } catch (const ClientGone&) {
      log::info("/api/pull: the client left; {} was not installed", model.name);
      return false;
    } catch (const std::exception& e) {
      log::warn("/api/pull {}: {}", model.name, e.what());
      out.send({{"error", redact_paths(e.what())}});
    }
    sink.done();
    return true;
  });
}

}  // namespace

void handle_ollama_pull(ServerContext& ctx, const httplib::Request& http, httplib::Response& res) {
  json body = parse_json_body(http.body);
  static constexpr std::string_view kPullFields[] = {"model", "name", "insecure", "stream"};
  refuse_unknown_fields(body, {kPullFields}, "/api/pull");
  require_value(body, "insecure", false);
  auto stream = body.find("stream");
  bool streamed = stream == body.end() || stream->is_null() || (stream->is_boolean() && stream->get<bool>());
  std::string name = ollama_model_name(string_field(body, "model", string_field(body, "name")));
  if (name.empty()) throw bad_request("'model' is required", "model");
  const auto& catalog = engine::pull_catalog();
  const engine::CatalogModel* entry = catalog.find(name);
  if (offered(ctx, name, entry)) {
    if (!streamed) return send_json(res, 200, {{"status", "success"}});
    res.status = 200;
    return res.set_content(json{{"status", "success"}}.dump() + "\n", "application/x-ndjson");
  }
  if (!entry) {
    throw not_found(fmt::format("model '{}' is not in ragd's catalog; it has: {}", name, catalog.describe_names()),
                    "model");
  }
  if (ctx.registry.model_dir().empty()) {
    throw ApiError(501,
                   fmt::format("this server has no model directory to install '{}' into; run `ragd pull {}` "
                               "and serve the file with --model",
                               entry->name, entry->name),
                   "", "model", "no_model_dir");
  }
  if (streamed) return stream_pull(ctx, res, *entry);
  try {
    install(ctx, *entry, {});
  } catch (const Error& e) {
    log::warn("/api/pull {}: {}", entry->name, e.what());
    throw ApiError(500, redact_paths(e.what()), "", "model", "pull_failed");
  }
  send_json(res, 200, {{"status", "success"}});
}

}  // namespace ragd::server
