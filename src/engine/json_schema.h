// JsonSchemaGrammar: a JSON Schema compiled into the node graph that JsonRecognizer
// (engine/json_recognizer.h) walks byte by byte to constrain generation to valid JSON.
//
// Supported subset (anything else throws ragd::Error naming the keyword, e.g.
// "'patternProperties' is not supported"): type (a name or a list of names) object / array /
// string / number / integer / boolean / null; properties, required, additionalProperties
// (false, true, or a schema for objects without properties); items, minItems, maxItems;
// minLength, maxLength; enum and const of scalars; anyOf / oneOf; $defs / definitions with
// local $ref (a recursive $ref is refused). Annotations (title, description, default,
// examples, $schema, $id, $comment) are ignored.
//
// Objects with properties are generated in the schema's property order: every required
// property appears, optional ones may be skipped, and no other key is produced (output that
// satisfies the schema whether or not it allows additional properties). Nodes are owned by
// the grammar and point at each other (the free-form "any value" node at itself), so a
// grammar is immutable once built and shared by every sequence that uses it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ragd::engine {

struct JsonNode {
  enum class Kind : uint8_t { Object, Array, String, Number, Integer, Literals, AnyOf };
  struct Property {
    std::string key;  // the key as generated: JSON-serialized without its opening quote
    const JsonNode* value = nullptr;
    bool required = false;
  };

  Kind kind = Kind::AnyOf;
  // Object: declared properties in order; next_required[i] is the first required index >= i
  // (properties.size() when none). With no properties the object is free-form: any string
  // keys, each value `additional`.
  std::vector<Property> properties;
  std::vector<uint32_t> next_required;
  const JsonNode* additional = nullptr;
  // Array: items; String: length bounds in code points.
  const JsonNode* items = nullptr;
  uint32_t min_count = 0;
  uint32_t max_count = UINT32_MAX;
  // Literals: exact JSON texts (enum, const, true/false, null), all non-empty.
  std::vector<std::string> literals;
  // AnyOf: the alternatives (at least one).
  std::vector<const JsonNode*> alternatives;
};

class JsonSchemaGrammar {
 public:
  // Compiles `schema`. `strict` (OpenAI's json_schema.strict) makes every object close:
  // additionalProperties must not be true or a schema. Throws ragd::Error naming the
  // unsupported keyword or the invalid value.
  // An ordered_json keeps the schema's property order (nlohmann::json would sort the keys),
  // so parse schemas from their text with nlohmann::ordered_json::parse.
  static std::shared_ptr<const JsonSchemaGrammar> compile(const nlohmann::ordered_json& schema, bool strict = false);
  // Any JSON object (response_format json_object, Ollama's format "json").
  static std::shared_ptr<const JsonSchemaGrammar> any_object();

  const JsonNode* root() const { return root_; }

  // Limits that keep hostile schemas cheap (each is refused with a message).
  static constexpr size_t kMaxDepth = 24;       // nested schemas, $ref expansions included
  static constexpr size_t kMaxNodes = 4096;
  static constexpr size_t kMaxLiterals = 512;   // values of one enum
  static constexpr uint32_t kMaxMinItems = 64;  // forced repetitions of an array's items

 private:
  friend class JsonSchemaCompiler;
  JsonNode* add();
  const JsonNode* any_value();  // the free-form value node, created on first use

  std::vector<std::unique_ptr<JsonNode>> nodes_;
  const JsonNode* root_ = nullptr;
  const JsonNode* any_ = nullptr;
};

}  // namespace ragd::engine
