// Collections and documents:
//   POST   /v1/collections                       {name, fts_tokenizer?}
//   GET    /v1/collections
//   GET    /v1/collections/{name}
//   DELETE /v1/collections/{name}
//   POST   /v1/collections/{name}/documents      JSON {documents:[{id,title,text,metadata}]}
//                                                or multipart/form-data files; ?wait=false
//                                                answers 202 with a job at once
//   GET    /v1/collections/{name}/documents      ?limit=&offset=
//   GET    /v1/collections/{name}/documents/{id}
//   DELETE /v1/collections/{name}/documents/{id}
//   GET    /v1/ingest                            ingestion jobs, newest first
//   GET    /v1/ingest/{id}                       one job: status, phase, counts, progress
// Every ingestion is a job (ingest_jobs.h): by default it runs on the request's thread and
// the response carries the counts (document_ingest.h); with wait=false it is queued.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "rag/ingest/document_reader.h"
#include "rag/store/schema.h"
#include "server/api_error.h"
#include "server/document_ingest.h"
#include "server/routes.h"
#include "util/error.h"

namespace ragd::server {
namespace {

using nlohmann::json;

StoreAccess& store_of(ServerContext& ctx) {
  if (!ctx.store) throw ApiError(503, "this server has no document store (ragd serve --db DIR)");
  return *ctx.store;
}

json collection_json(rag::Store& s, const rag::Collection& c) {
  auto st = s.stats(c.id);
  return {{"name", c.name},          {"object", "collection"},          {"documents", st.documents},
          {"chunks", st.chunks},     {"embeddings", st.embeddings},      {"sources", st.sources},
          {"embedding_model", c.embedding_model}, {"embedding_dim", c.embedding_dim},
          {"content_version", s.content_version(c.id)}};
}

rag::Collection require(rag::Store& s, const std::string& name) {
  auto c = s.find_collection(name);
  if (!c) throw not_found("collection '" + name + "' does not exist (GET /v1/collections)", "collection");
  return *c;
}

rag::Document document_from_request(const json& d, size_t index) {
  if (!d.is_object()) throw bad_request(fmt::format("documents[{}] must be an object", index), "documents");
  std::string why;
  auto doc = rag::document_from_json(d, "", why);
  if (!doc) throw bad_request(fmt::format("documents[{}]: {}", index, why), "documents");
  if (doc->external_id.empty()) {
    throw bad_request(fmt::format("documents[{}] needs an 'id' (string or number)", index), "documents");
  }
  return std::move(*doc);
}

void handle_upload(ServerContext& ctx, const std::string& name, const httplib::Request& req, httplib::Response& res) {
  auto& store = store_of(ctx);
  std::vector<rag::Document> docs;
  if (req.is_multipart_form_data()) {
    for (const auto& [field, file] : req.files) {
      if (file.filename.empty()) continue;  // a plain form field
      try {
        auto parsed = parse_uploaded_file(file.filename, file.content);
        for (auto& d : parsed) docs.push_back(std::move(d));
      } catch (const Error& e) {
        throw bad_request(e.what(), field);
      }
    }
    if (docs.empty()) throw bad_request("the upload holds no file with text (multipart field with a filename)", "file");
  } else {
    json body = parse_json_body(req.body);
    if (!body.contains("documents") || !body["documents"].is_array() || body["documents"].empty()) {
      throw bad_request("'documents' must be a non-empty array of {id, title, text, metadata}", "documents");
    }
    for (size_t i = 0; i < body["documents"].size(); ++i) docs.push_back(document_from_request(body["documents"][i], i));
  }
  try {
    rag::Store::validate_collection_name(name);
  } catch (const Error& e) {
    throw bad_request(e.what(), "collection");
  }
  bool wait = true;
  if (req.has_param("wait")) {
    const std::string v = req.get_param_value("wait");
    if (v != "true" && v != "false" && v != "1" && v != "0") throw bad_request("'wait' must be true or false", "wait");
    wait = v == "true" || v == "1";
  }
  const size_t count = docs.size();
  // std::function needs a copyable callable; the documents are moved into the ingestion.
  auto shared_docs = std::make_shared<std::vector<rag::Document>>(std::move(docs));
  IngestJobs::Work work = [&ctx, &store, name, shared_docs](const IngestProgressFn& progress) {
    std::unique_ptr<rag::ModelEmbedder> embedder;
    if (ctx.registry.default_model(engine::ModelKind::Embedder)) {
      embedder = std::make_unique<rag::ModelEmbedder>(ctx.acquire("", engine::ModelKind::Embedder)->embedder);
    }
    return ingest_documents(store, name, std::move(*shared_docs), ctx.options.chunker, embedder.get(), progress)
        .to_json();
  };
  if (wait) {
    send_json(res, 200, ctx.ingest_jobs.run_inline(name, count, work));
    return;
  }
  json job = ctx.ingest_jobs.submit(name, count, std::move(work));
  res.set_header("Location", "/v1/ingest/" + job["id"].get<std::string>());
  send_json(res, 202, job);
}

void handle_list_documents(ServerContext& ctx, const std::string& name, const httplib::Request& req, httplib::Response& res) {
  auto parse_count = [&](const char* key, int64_t fallback, int64_t max) {
    if (!req.has_param(key)) return fallback;
    std::string v = req.get_param_value(key);
    try {
      size_t used = 0;
      int64_t n = std::stoll(v, &used);
      if (used == v.size() && n >= 0 && n <= max) return n;
    } catch (const std::exception&) {
    }
    throw bad_request(fmt::format("'{}' must be an integer between 0 and {}", key, max), key);
  };
  int64_t limit = parse_count("limit", 100, 10000), offset = parse_count("offset", 0, INT64_MAX / 2);
  json out = store_of(ctx).read([&](rag::Store& s) {
    auto c = require(s, name);
    json data = json::array();
    for (const auto& d : s.list_documents(c.id, limit, offset)) {
      data.push_back({{"id", d.external_id}, {"title", d.title}, {"metadata", json::parse(d.metadata, nullptr, false)},
                      {"chunks", d.chunk_count}, {"ingested_at", d.ingested_at}});
    }
    return json{{"object", "list"}, {"collection", name}, {"data", data}, {"total", s.stats(c.id).documents},
                {"limit", limit}, {"offset", offset}};
  });
  send_json(res, 200, out);
}

void handle_get_document(ServerContext& ctx, const std::string& name, const std::string& id, httplib::Response& res) {
  json out = store_of(ctx).read([&](rag::Store& s) {
    auto c = require(s, name);
    auto d = s.get_document(c.id, id);
    if (!d) throw not_found("document '" + id + "' is not in collection '" + name + "'", "id");
    json doc = {{"id", id}, {"title", d->title}, {"metadata", json::parse(d->metadata, nullptr, false)},
                {"chunk_count", d->chunk_count}, {"ingested_at", d->ingested_at}};
    json chunks = json::array();
    for (const auto& ch : s.document_chunks(d->id)) {
      chunks.push_back({{"chunk_id", ch.id}, {"ordinal", ch.ordinal}, {"heading", ch.heading},
                        {"text", ch.text}, {"tokens", ch.token_count}});
    }
    doc["chunks"] = chunks;
    return doc;
  });
  send_json(res, 200, out);
}

void handle_delete_document(ServerContext& ctx, const std::string& name, const std::string& id, httplib::Response& res) {
  store_of(ctx).write([&](rag::Store& s) {
    auto c = require(s, name);
    auto ref = s.find_document(c.id, id);
    if (!ref) throw not_found("document '" + id + "' is not in collection '" + name + "'", "id");
    rag::StoreTransaction tx(s);
    s.remove_document(c, ref->id);
    tx.commit();
    return 0;
  });
  send_json(res, 200, {{"id", id}, {"object", "document"}, {"deleted", true}});
}

void handle_delete_collection(ServerContext& ctx, const std::string& name, httplib::Response& res) {
  auto& store = store_of(ctx);
  store.write([&](rag::Store& s) {
    auto c = require(s, name);
    s.delete_collection(c);
    std::error_code ec;
    auto index = rag::CollectionVectors::index_path(s.dir(), name);
    std::filesystem::remove(index, ec);
    std::filesystem::remove(index.string() + ".json", ec);
    return 0;
  });
  store.forget(name);
  send_json(res, 200, {{"name", name}, {"object", "collection"}, {"deleted", true}});
}

}  // namespace

void register_document_routes(HttpServer& http, ServerContext& ctx) {
  http.post("/v1/collections", "/v1/collections", [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
    json body = parse_json_body(req.body);
    if (!body.contains("name") || !body["name"].is_string()) throw bad_request("'name' must be a string", "name");
    std::string name = body["name"].get<std::string>();
    require_collection(info.key, name);
    std::string tokenizer = string_field(body, "fts_tokenizer", "porter");
    json out = store_of(ctx).write([&](rag::Store& s) {
      try {
        rag::Store::validate_collection_name(name);
        rag::fts_tokenizer_spec(tokenizer);
      } catch (const Error& e) {
        throw bad_request(e.what());
      }
      bool existed = s.find_collection(name).has_value();
      auto c = s.create_collection(name, tokenizer);
      json j = collection_json(s, c);
      j["created"] = !existed;
      return j;
    });
    send_json(res, out["created"].get<bool>() ? 201 : 200, out);
  }, Scope::Admin);
  http.get("/v1/collections", "/v1/collections", [&ctx](const httplib::Request&, httplib::Response& res, const RequestInfo& info) {
    json out = store_of(ctx).read([&](rag::Store& s) {
      json data = json::array();
      for (const auto& c : s.list_collections()) {
        if (!info.key || info.key->allows_collection(c.name)) data.push_back(collection_json(s, c));  // a limited key sees its own
      }
      return json{{"object", "list"}, {"data", data}};
    });
    send_json(res, 200, out);
  }, Scope::Query);
  http.get(R"(/v1/collections/([^/]+))", "/v1/collections/{name}",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
             std::string name = req.matches[1];
             send_json(res, 200, store_of(ctx).read([&](rag::Store& s) { return collection_json(s, require(s, name)); }));
           }, Scope::Query);
  http.del(R"(/v1/collections/([^/]+))", "/v1/collections/{name}",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
             handle_delete_collection(ctx, req.matches[1], res);
           }, Scope::Admin);
  http.post(R"(/v1/collections/([^/]+)/documents)", "/v1/collections/{name}/documents",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
              handle_upload(ctx, req.matches[1], req, res);
            }, Scope::Admin);
  http.get(R"(/v1/collections/([^/]+)/documents)", "/v1/collections/{name}/documents",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
             handle_list_documents(ctx, req.matches[1], req, res);
           }, Scope::Query);
  // A key limited to some collections sees only their jobs; another collection's job is
  // "unknown" to it, as it would be if it did not exist (a 403 would confirm that it does).
  http.get("/v1/ingest", "/v1/ingest", [&ctx](const httplib::Request&, httplib::Response& res, const RequestInfo& info) {
    nlohmann::json jobs = ctx.ingest_jobs.list();
    if (info.key) {
      auto& data = jobs["data"];
      data.erase(std::remove_if(data.begin(), data.end(),
                                [&](const nlohmann::json& j) {
                                  return !info.key->allows_collection(j.value("collection", ""));
                                }),
                 data.end());
    }
    send_json(res, 200, jobs);
  }, Scope::Query);
  http.get(R"(/v1/ingest/([^/]+))", "/v1/ingest/{id}",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
             auto job = ctx.ingest_jobs.get(req.matches[1]);
             if (!job || (info.key && !info.key->allows_collection(job->value("collection", "")))) {
               throw not_found("ingestion job '" + std::string(req.matches[1]) + "' is unknown (GET /v1/ingest)", "id");
             }
             send_json(res, 200, *job);
           }, Scope::Query);
  http.get(R"(/v1/collections/([^/]+)/documents/(.+))", "/v1/collections/{name}/documents/{id}",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
             handle_get_document(ctx, req.matches[1], req.matches[2], res);
           }, Scope::Query);
  http.del(R"(/v1/collections/([^/]+)/documents/(.+))", "/v1/collections/{name}/documents/{id}",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
             handle_delete_document(ctx, req.matches[1], req.matches[2], res);
           }, Scope::Admin);
}

}  // namespace ragd::server
