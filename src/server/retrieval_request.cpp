#include "server/retrieval_request.h"

#include "server/api_error.h"
#include "util/error.h"

namespace ragd::server {
namespace {

using nlohmann::json;

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::string enum_field(const json& body, const char* name, const char* choices) {
  const json* v = field(body, name);
  if (!v) return "";
  if (!v->is_string()) throw bad_request(std::string("'") + name + "' must be one of " + choices, name);
  return v->get<std::string>();
}

std::vector<std::string> filters(const json& f) {
  std::vector<std::string> out;
  if (f.is_string()) {
    out.push_back(f.get<std::string>());
  } else if (f.is_array()) {
    for (const auto& s : f) {
      if (!s.is_string()) throw bad_request("'filters' must be an array of \"KEY=VALUE\" strings", "filters");
      out.push_back(s.get<std::string>());
    }
  } else if (f.is_object()) {
    for (const auto& [k, v] : f.items()) out.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  } else {
    throw bad_request("'filters' must be an array of \"KEY=VALUE\" strings or an object", "filters");
  }
  return out;
}

}  // namespace

void parse_retrieval_fields(const json& body, rag::RetrievalRequest& r, size_t max_top_k) {
  if (const json* k = field(body, "top_k")) {
    if (!k->is_number_integer() || k->get<int64_t>() < 1 || k->get<int64_t>() > static_cast<int64_t>(max_top_k)) {
      throw bad_request("'top_k' must be an integer from 1 to " + std::to_string(max_top_k), "top_k");
    }
    r.top_k = k->get<size_t>();
  }
  try {
    if (auto m = enum_field(body, "mode", "\"bm25\", \"dense\", \"hybrid\""); !m.empty()) r.mode = rag::parse_search_mode(m);
  } catch (const Error&) {
    throw bad_request("'mode' must be \"bm25\", \"dense\" or \"hybrid\"", "mode");
  }
  try {
    if (auto f = enum_field(body, "fusion", "\"weighted\", \"rrf\""); !f.empty()) r.fusion = rag::parse_fusion_method(f);
  } catch (const Error&) {
    throw bad_request("'fusion' must be \"weighted\" or \"rrf\"", "fusion");
  }
  const std::string level = enum_field(body, "level", "\"chunks\", \"documents\"");
  if (level == "documents") r.level = rag::ResultLevel::Documents;
  else if (level == "chunks") r.level = rag::ResultLevel::Chunks;
  else if (!level.empty()) throw bad_request("'level' must be \"chunks\" or \"documents\"", "level");
  if (auto p = enum_field(body, "profile", "\"fast\", \"default\", \"quality\""); !p.empty()) r.profile = p;
  if (const json* f = field(body, "filters")) r.filters = filters(*f);
  if (const json* s = field(body, "min_score")) {
    if (!s->is_number()) throw bad_request("'min_score' must be a number", "min_score");
    r.min_score = s->get<double>();
  }
  if (const json* c = field(body, "cache")) {
    if (!c->is_boolean()) throw bad_request("'cache' must be true or false", "cache");
    r.use_cache = c->get<bool>();
  }
}

}  // namespace ragd::server
