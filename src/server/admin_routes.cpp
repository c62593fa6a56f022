// Operational endpoints: liveness and readiness probes, Prometheus metrics, cache and model
// administration, and /v1/batch (several non-streamed requests in one call).
#include <fmt/format.h>

#include <algorithm>
#include <future>

#include "server/api_error.h"
#include "server/routes.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// The exposition as a key may see it: a key limited to some collections gets no series
// labelled with another collection (their names and sizes are not its business).
std::string metrics_visible_to(const std::string& text, const ApiKey* key) {
  if (!key || key->collections.empty()) return text;
  static constexpr std::string_view kLabel = "collection=\"";
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string_view line(text.data() + start, end - start);
    bool visible = true;
    if (size_t at = line.find(kLabel); at != std::string_view::npos && line[0] != '#') {
      const size_t from = at + kLabel.size();
      const size_t close = line.find('"', from);  // names are [A-Za-z0-9_.-] (store.cpp)
      visible = close != std::string_view::npos &&
                key->allows_collection(std::string(line.substr(from, close - from)));
    }
    if (visible) out.append(line);
    start = end;
  }
  return out;
}

void handle_ready(ServerContext& ctx, httplib::Response& res) {
  std::vector<std::string> required = ctx.options.warmup;
  for (auto kind : {engine::ModelKind::Llm, engine::ModelKind::Embedder}) {
    if (auto d = ctx.registry.default_model(kind)) required.push_back(*d);
  }
  json missing = json::array();
  for (const auto& s : ctx.registry.status()) {
    if (std::find(required.begin(), required.end(), s.spec.name) != required.end() && !s.loaded) {
      missing.push_back(s.spec.name);
    }
  }
  if (missing.empty()) {
    send_json(res, 200, {{"status", "ready"}});
  } else {
    json body = error_body(503, "not ready: default models still loading or unloaded");
    body["missing"] = missing;
    send_json(res, 503, body);
  }
}

json cache_status(ServerContext& ctx) {
  auto rs = ctx.result_cache.stats();
  auto as = ctx.answer_cache.stats();
  json j = {{"result", {{"entries", rs.size}, {"hits", rs.hits}, {"misses", rs.misses}, {"expired", rs.expired},
                        {"evicted", rs.evicted}, {"capacity", ctx.result_cache.capacity()},
                        {"ttl_seconds", ctx.result_cache.ttl_seconds()}}},
            {"answer", {{"entries", as.size}, {"exact_hits", as.exact_hits}, {"semantic_hits", as.semantic_hits},
                        {"misses", as.misses}, {"invalidated", as.invalidated}, {"evicted", as.evicted},
                        {"capacity", ctx.answer_cache.options().capacity},
                        {"semantic_threshold", ctx.answer_cache.options().semantic_threshold}}}};
  if (ctx.embedding_cache) {
    j["embedding"] = {{"entries", ctx.embedding_cache->size()}, {"hits", ctx.embedding_cache->hits()},
                      {"misses", ctx.embedding_cache->misses()}, {"capacity", ctx.embedding_cache->capacity()},
                      {"file", ctx.options.embedding_cache_file}};
  }
  return j;
}

void handle_cache(ServerContext& ctx, const httplib::Request& http, httplib::Response& res) {
  json body = parse_json_body(http.body);
  std::string action = string_field(body, "action", "status");
  json out = {{"action", action}};
  if (action == "status") {
  } else if (action == "clear") {
    std::string which = string_field(body, "cache", "all");
    if (which != "all" && which != "result" && which != "answer" && which != "embedding" && which != "prefix") {
      throw bad_request("'cache' must be all, result, answer, embedding or prefix", "cache");
    }
    if (which == "all" || which == "result") ctx.result_cache.clear();
    if (which == "all" || which == "answer") ctx.answer_cache.clear();
    if ((which == "all" || which == "embedding") && ctx.embedding_cache) ctx.embedding_cache->clear();
    if (which == "all" || which == "prefix") {
      for (const auto& s : ctx.registry.status()) {
        if (!s.loaded || s.spec.kind != engine::ModelKind::Llm) continue;
        auto m = ctx.registry.acquire(s.spec.name, engine::ModelKind::Llm);
        if (m->scheduler) m->scheduler->clear_prefix_cache();
      }
    }
    out["cleared"] = which;
  } else if (action == "save") {
    if (!ctx.embedding_cache) throw bad_request("this server has no embedding cache");
    std::string file = ctx.options.embedding_cache_file;
    if (file.empty()) {
      throw bad_request("no embedding cache file configured (ragd serve --embedding-cache FILE or cache.embedding_file)");
    }
    ctx.embedding_cache->save(file);
    out["saved"] = {{"file", file}, {"entries", ctx.embedding_cache->size()}};
  } else if (action == "warmup") {
    // Loads models (all registered, or body.models) and embeds body.texts into the
    // embedding cache, so the first real requests do not pay for either.
    std::vector<std::string> names;
    if (body.contains("models")) {
      if (!body["models"].is_array()) throw bad_request("'models' must be an array of names", "models");
      for (const auto& n : body["models"]) {
        if (!n.is_string()) throw bad_request("'models' must be an array of names", "models");
        names.push_back(n.get<std::string>());
      }
    } else {
      for (const auto& s : ctx.registry.status()) names.push_back(s.spec.name);
    }
    for (const auto& n : names) {
      if (!ctx.registry.contains(n)) throw not_found("model '" + n + "' does not exist", "models");
    }
    ctx.registry.warm_up(names);
    out["loaded"] = names;
    if (body.contains("texts")) {
      if (!body["texts"].is_array()) throw bad_request("'texts' must be an array of strings", "texts");
      std::vector<std::string> texts;
      for (const auto& t : body["texts"]) {
        if (!t.is_string()) throw bad_request("'texts' must be an array of strings", "texts");
        texts.push_back(t.get<std::string>());
      }
      auto m = ctx.acquire(string_field(body, "embedding_model"), engine::ModelKind::Embedder);
      m->embedder->embed(texts);
      out["embedded"] = texts.size();
    }
  } else {
    throw bad_request("unknown cache action '" + action + "': use status, warmup, save or clear", "action");
  }
  out["caches"] = cache_status(ctx);
  send_json(res, 200, out);
}

void handle_model_action(ServerContext& ctx, const std::string& name, const std::string& action, httplib::Response& res) {
  if (!ctx.registry.contains(name)) throw not_found("model '" + name + "' does not exist (GET /v1/models)", "model");
  json out = {{"model", name}, {"action", action}};
  if (action == "pin" || action == "unpin") {
    ctx.registry.pin(name, action == "pin");
  } else if (action == "unload") {
    out["unloaded"] = ctx.registry.unload(name);
  } else if (action == "load") {
    ctx.registry.warm_up({name});
  } else {
    throw bad_request("unknown model action '" + action + "': use load, pin, unpin or unload", "action");
  }
  for (const auto& s : ctx.registry.status()) {
    if (s.spec.name == name) out["status"] = {{"loaded", s.loaded}, {"pinned", s.spec.pinned}};
  }
  send_json(res, 200, out);
}

json run_one(ServerContext& ctx, const json& item, const RequestInfo& info) {
  if (!item.is_object()) throw bad_request("each batch request must be an object {type, body}");
  std::string type = string_field(item, "type");
  if (!item.contains("body") || !item["body"].is_object()) throw bad_request("each batch request needs a 'body' object");
  const json& body = item["body"];
  if (type == "chat") return run_chat(ctx, body, info);
  if (type == "completion") return run_completion(ctx, body, info);
  if (type == "rag") return run_rag_query(ctx, body, info);
  throw bad_request("batch request type must be chat, completion or rag, not '" + type + "'");
}

// One batch item's result or error; never throws, so every promise is fulfilled.
json batch_item_result(ServerContext& ctx, const json& item, const RequestInfo& info) {
  try {
    return {{"status", 200}, {"response", run_one(ctx, item, info)}};
  } catch (const ApiError& e) {
    json error = e.body()["error"];
    error["message"] = redact_paths(e.what());
    return {{"status", e.status()}, {"error", error}};
  } catch (const nlohmann::json::exception&) {
    return {{"status", 400}, {"error", error_body(400, "invalid JSON value types in the request")["error"]}};
  } catch (const Error& e) {
    if (is_storage_error(e.what())) {
      log::error("/v1/batch: {}", e.what());
      return {{"status", 500}, {"error", error_body(500, "internal error: the document store failed")["error"]}};
    }
    return {{"status", 400}, {"error", error_body(400, redact_paths(e.what()))["error"]}};
  } catch (const std::exception& e) {
    log::error("/v1/batch: {}", e.what());
    return {{"status", 500}, {"error", error_body(500, "internal error (details in the server log)")["error"]}};
  }
}

constexpr size_t kBatchWorkers = 32;

// Created on first use and never destroyed: its idle threads end with the process.
httplib::ThreadPool& batch_pool() {
  static auto* pool = new httplib::ThreadPool(kBatchWorkers);
  return *pool;
}

void handle_batch(ServerContext& ctx, const httplib::Request& http, httplib::Response& res, const RequestInfo& info) {
  json body = parse_json_body(http.body);
  if (!body.contains("requests") || !body["requests"].is_array() || body["requests"].empty()) {
    throw bad_request("'requests' must be a non-empty array of {type, body}", "requests");
  }
  const json& items = body["requests"];
  if (items.size() > ctx.options.max_batch_requests) {
    throw bad_request(fmt::format("at most {} requests per batch", ctx.options.max_batch_requests), "requests");
  }
  // Items run on one shared pool of kBatchWorkers threads, whatever the number of batches
  // in flight (a thread per item let 10 concurrent 64-item batches start 517 threads);
  // up to kBatchWorkers items of all batches wait on the scheduler together.
  std::vector<std::future<json>> futures;
  for (const auto& item : items) {
    auto done = std::make_shared<std::promise<json>>();
    futures.push_back(done->get_future());
    batch_pool().enqueue([&ctx, &info, item = &item, done] { done->set_value(batch_item_result(ctx, *item, info)); });
  }
  json results = json::array();
  for (size_t i = 0; i < futures.size(); ++i) {
    json r = futures[i].get();
    r["index"] = i;
    results.push_back(r);
  }
  send_json(res, 200, {{"object", "batch"}, {"results", results}});
}

}  // namespace

void register_admin_routes(HttpServer& http, ServerContext& ctx) {
  http.get("/health", "/health", [](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
    send_json(res, 200, {{"status", "ok"}});
  }, Scope::Public);
  http.get("/ready", "/ready", [&ctx](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
    handle_ready(ctx, res);
  }, Scope::Public);
  http.get("/metrics", "/metrics", [&ctx](const httplib::Request&, httplib::Response& res, const RequestInfo& info) {
    res.set_content(metrics_visible_to(ctx.render_metrics(), info.key), "text/plain; version=0.0.4; charset=utf-8");
  }, Scope::Query);
  http.post("/v1/cache", "/v1/cache", [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
    handle_cache(ctx, req, res);
  }, Scope::Admin);
  http.post(R"(/v1/models/([^/]+)/(load|pin|unpin|unload))", "/v1/models/{name}/{action}",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
              handle_model_action(ctx, req.matches[1], req.matches[2], res);
            }, Scope::Admin);
  http.post(R"(/v1/models/([^/]+))", "/v1/models/{name}",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
              json body = parse_json_body(req.body);
              if (!body.contains("action") || !body["action"].is_string()) {
                throw bad_request("'action' must be one of load, pin, unpin, unload", "action");
              }
              handle_model_action(ctx, req.matches[1], body["action"].get<std::string>(), res);
            }, Scope::Admin);
  http.post("/v1/batch", "/v1/batch", [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
    handle_batch(ctx, req, res, info);
  }, Scope::Query);
}

}  // namespace ragd::server
