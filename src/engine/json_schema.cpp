#include "engine/json_schema.h"

#include <algorithm>
#include <map>
#include <string_view>

#include "util/error.h"

namespace ragd::engine {

using json = nlohmann::ordered_json;

namespace {

constexpr std::string_view kAnnotations[] = {"title", "description", "default", "examples",
                                             "$schema", "$id", "$comment", "$defs", "definitions"};
constexpr std::string_view kKeywords[] = {"type",     "properties", "required", "additionalProperties",
                                          "items",    "minItems",   "maxItems", "minLength",
                                          "maxLength", "enum",      "const",    "anyOf",
                                          "$ref"};
constexpr uint32_t kMaxMinLength = 4096;

bool is_annotation(std::string_view key) { return std::ranges::find(kAnnotations, key) != std::end(kAnnotations); }
bool is_keyword(std::string_view key) { return std::ranges::find(kKeywords, key) != std::end(kKeywords); }

// The JSON Schema type names a scalar value satisfies.
bool value_has_type(const json& v, std::string_view type) {
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  return false;
}

}  // namespace

JsonNode* JsonSchemaGrammar::add() {
  if (nodes_.size() >= kMaxNodes) fail("the schema is too large (more than {} parts)", kMaxNodes);
  nodes_.push_back(std::make_unique<JsonNode>());
  return nodes_.back().get();
}

const JsonNode* JsonSchemaGrammar::any_value() {
  if (any_) return any_;
  JsonNode* any = add();
  any_ = any;
  JsonNode* object = add();
  object->kind = JsonNode::Kind::Object;
  object->additional = any;
  object->next_required = {0};
  JsonNode* array = add();
  array->kind = JsonNode::Kind::Array;
  array->items = any;
  JsonNode* string = add();
  string->kind = JsonNode::Kind::String;
  JsonNode* number = add();
  number->kind = JsonNode::Kind::Number;
  JsonNode* literals = add();
  literals->kind = JsonNode::Kind::Literals;
  literals->literals = {"true", "false", "null"};
  any->kind = JsonNode::Kind::AnyOf;
  any->alternatives = {object, array, string, number, literals};
  return any_;
}

// Recursive descent over the schema; `where` is the JSON path of the current subschema,
// used only in error messages.
class JsonSchemaCompiler {
 public:
  JsonSchemaCompiler(JsonSchemaGrammar& g, const json& root, bool strict) : g_(g), root_(root), strict_(strict) {}

  const JsonNode* compile(const json& s, size_t depth, const std::string& where) {
    if (depth > JsonSchemaGrammar::kMaxDepth) {
      fail("the schema nests deeper than {} levels (at {})", JsonSchemaGrammar::kMaxDepth, where);
    }
    if (s.is_boolean()) {
      if (s.get<bool>()) return g_.any_value();
      fail("the schema 'false' at {} matches nothing", where);
    }
    if (!s.is_object()) fail("the schema at {} must be an object", where);
    for (const auto& [key, value] : s.items()) {
      if (!is_keyword(key) && !is_annotation(key)) fail("'{}' is not supported (at {})", key, where);
    }
    if (s.contains("$ref")) return ref(s, depth, where);
    if (s.contains("anyOf")) return any_of(s, depth, where);
    if (s.contains("enum") || s.contains("const")) return literals(s, where);
    auto type = s.find("type");
    if (type == s.end()) return typed(s, implied_type(s), depth, where);
    if (type->is_string()) return typed(s, type->get<std::string>(), depth, where);
    if (!type->is_array() || type->empty()) fail("'type' at {} must be a type name or a list of them", where);
    JsonNode* node = g_.add();
    node->kind = JsonNode::Kind::AnyOf;
    for (const auto& t : *type) {
      if (!t.is_string()) fail("'type' at {} must be a type name or a list of them", where);
      node->alternatives.push_back(typed(s, t.get<std::string>(), depth, where));
    }
    return node;
  }

 private:
  static std::string implied_type(const json& s) {
    if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) return "object";
    if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) return "array";
    if (s.contains("minLength") || s.contains("maxLength")) return "string";
    return "";
  }

  static void only_with(const json& s, std::string_view keyword, const std::string& where) {
    for (const auto& [key, value] : s.items()) {
      if (key != keyword && !is_annotation(key)) {
        fail("'{}' together with '{}' is not supported (at {})", key, keyword, where);
      }
    }
  }

  static uint32_t count(const json& s, const char* name, uint32_t fallback, uint32_t limit, const std::string& where) {
    auto it = s.find(name);
    if (it == s.end()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < 0) fail("'{}' at {} must be a non-negative integer", name, where);
    if (it->get<int64_t>() > static_cast<int64_t>(limit)) fail("'{}' at {} may be at most {}", name, where, limit);
    return static_cast<uint32_t>(it->get<int64_t>());
  }

  const JsonNode* ref(const json& s, size_t depth, const std::string& where) {
    only_with(s, "$ref", where);
    const json& r = s["$ref"];
    if (!r.is_string()) fail("'$ref' at {} must be a string", where);
    const std::string name = r.get<std::string>();
    if (auto it = done_.find(name); it != done_.end()) return it->second;
    if (std::ranges::find(active_, name) != active_.end()) fail("recursive '$ref' {} is not supported", name);
    const json* target = nullptr;
    for (std::string_view prefix : {"#/$defs/", "#/definitions/"}) {
      if (!name.starts_with(prefix)) continue;
      auto defs = root_.find(std::string(prefix.substr(2, prefix.size() - 3)));
      auto entry = name.substr(prefix.size());
      if (defs != root_.end() && defs->is_object() && defs->contains(entry)) target = &(*defs)[entry];
    }
    if (name == "#") fail("recursive '$ref' # is not supported");
    if (!target) fail("'$ref' {} at {} does not name an entry of $defs or definitions", name, where);
    active_.push_back(name);
    const JsonNode* node = compile(*target, depth + 1, name);
    active_.pop_back();
    done_[name] = node;
    return node;
  }

  const JsonNode* any_of(const json& s, size_t depth, const std::string& where) {
    only_with(s, "anyOf", where);
    const json& alts = s["anyOf"];
    if (!alts.is_array() || alts.empty()) fail("'anyOf' at {} must be a non-empty array of schemas", where);
    JsonNode* node = g_.add();
    node->kind = JsonNode::Kind::AnyOf;
    for (size_t i = 0; i < alts.size(); ++i) {
      node->alternatives.push_back(compile(alts[i], depth + 1, where + ".anyOf[" + std::to_string(i) + "]"));
    }
    return node;
  }

  const JsonNode* literals(const json& s, const std::string& where) {
    json values = json::array();
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty()) fail("'enum' at {} must be a non-empty array", where);
      values = *it;
    }
    if (auto it = s.find("const"); it != s.end()) {
      if (s.contains("enum")) fail("'enum' together with 'const' is not supported (at {})", where);
      values.push_back(*it);
    }
    if (values.size() > JsonSchemaGrammar::kMaxLiterals) {
      fail("'enum' at {} has {} values; at most {} are supported", where, values.size(), JsonSchemaGrammar::kMaxLiterals);
    }
    JsonNode* node = g_.add();
    node->kind = JsonNode::Kind::Literals;
    for (const auto& v : values) {
      if (v.is_object() || v.is_array()) fail("'enum' and 'const' values at {} must be strings, numbers, booleans or null", where);
      if (auto type = s.find("type"); type != s.end()) {
        bool ok = false;
        for (const auto& t : type->is_array() ? *type : json::array({*type})) {
          ok = ok || (t.is_string() && value_has_type(v, t.get<std::string>()));
        }
        if (!ok) fail("the value {} at {} does not have the schema's 'type'", v.dump(), where);
      }
      std::string text = v.dump();
      if (std::ranges::find(node->literals, text) == node->literals.end()) node->literals.push_back(std::move(text));
    }
    return node;
  }

  const JsonNode* typed(const json& s, const std::string& type, size_t depth, const std::string& where) {
    if (type.empty()) return g_.any_value();
    if (type == "object") return object(s, depth, where);
    JsonNode* node = g_.add();
    if (type == "array") {
      node->kind = JsonNode::Kind::Array;
      auto items = s.find("items");
      if (items != s.end() && items->is_array()) fail("'items' as an array (tuples) is not supported (at {})", where);
      node->items = items == s.end() ? g_.any_value() : compile(*items, depth + 1, where + ".items");
      node->min_count = count(s, "minItems", 0, JsonSchemaGrammar::kMaxMinItems, where);
      node->max_count = count(s, "maxItems", UINT32_MAX, UINT32_MAX, where);
    } else if (type == "string") {
      node->kind = JsonNode::Kind::String;
      node->min_count = count(s, "minLength", 0, kMaxMinLength, where);
      node->max_count = count(s, "maxLength", UINT32_MAX, UINT32_MAX, where);
    } else if (type == "number" || type == "integer") {
      node->kind = type == "number" ? JsonNode::Kind::Number : JsonNode::Kind::Integer;
    } else if (type == "boolean" || type == "null") {
      node->kind = JsonNode::Kind::Literals;
      node->literals = type == "null" ? std::vector<std::string>{"null"} : std::vector<std::string>{"true", "false"};
    } else {
      fail("unknown 'type' \"{}\" at {}", type, where);
    }
    if (node->min_count > node->max_count) fail("the minimum exceeds the maximum at {}", where);
    return node;
  }

  const JsonNode* object(const json& s, size_t depth, const std::string& where) {
    JsonNode* node = g_.add();
    node->kind = JsonNode::Kind::Object;
    auto props = s.find("properties");
    if (props != s.end() && !props->is_object()) fail("'properties' at {} must be an object", where);
    const bool declared = props != s.end() && !props->empty();
    if (declared) {
      for (const auto& [key, value] : props->items()) {
        node->properties.push_back({json(key).dump().substr(1), compile(value, depth + 1, where + "." + key), false});
      }
    }
    if (auto req = s.find("required"); req != s.end()) {
      if (!req->is_array()) fail("'required' at {} must be an array of property names", where);
      for (const auto& name : *req) {
        std::string key = name.is_string() ? json(name).dump().substr(1) : "";
        auto it = std::ranges::find(node->properties, key, &JsonNode::Property::key);
        if (it == node->properties.end()) fail("required property {} at {} is not in 'properties'", name.dump(), where);
        it->required = true;
      }
    }
    node->next_required.assign(node->properties.size() + 1, static_cast<uint32_t>(node->properties.size()));
    for (size_t i = node->properties.size(); i-- > 0;) {
      node->next_required[i] = node->properties[i].required ? static_cast<uint32_t>(i) : node->next_required[i + 1];
    }
    auto extra = s.find("additionalProperties");
    const bool open = extra == s.end() ? !strict_ : !(extra->is_boolean() && !extra->get<bool>());
    if (strict_ && extra != s.end() && open) fail("strict mode needs 'additionalProperties': false (at {})", where);
    if (declared) {
      if (extra != s.end() && extra->is_object()) {
        fail("'additionalProperties' as a schema is supported only without 'properties' (at {})", where);
      }
      return node;  // declared keys only: valid whether or not others are allowed
    }
    if (open) node->additional = extra == s.end() ? g_.any_value() : compile(*extra, depth + 1, where + ".additionalProperties");
    return node;
  }

  JsonSchemaGrammar& g_;
  const json& root_;
  bool strict_;
  std::map<std::string, const JsonNode*> done_;
  std::vector<std::string> active_;
};

std::shared_ptr<const JsonSchemaGrammar> JsonSchemaGrammar::compile(const json& schema, bool strict) {
  auto g = std::make_shared<JsonSchemaGrammar>();
  JsonSchemaCompiler compiler(*g, schema, strict);
  g->root_ = compiler.compile(schema, 0, "the schema root");
  return g;
}

std::shared_ptr<const JsonSchemaGrammar> JsonSchemaGrammar::any_object() {
  auto g = std::make_shared<JsonSchemaGrammar>();
  JsonNode* root = g->add();
  root->kind = JsonNode::Kind::Object;
  root->additional = g->any_value();
  root->next_required = {0};
  g->root_ = root;
  return g;
}

}  // namespace ragd::engine
