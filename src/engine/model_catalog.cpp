#include "engine/model_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "util/error.h"
#include "util/text.h"

namespace ragd::engine {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

bool is_sha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// One row being parsed: reports errors with the file's label and line number.
struct Row {
  std::string_view label;
  size_t line;
  std::vector<std::string_view> cells;

  [[noreturn]] void error(std::string_view what) const {
    fail("model catalog {} line {}: {}", label, line, what);
  }
  std::string text(size_t i, std::string_view what) const {
    if (cells[i].empty()) error(fmt::format("empty {}", what));
    return std::string(cells[i]);
  }
  std::string sha(size_t i) const {
    if (!is_sha256(cells[i])) error(fmt::format("'{}' is not a sha256 (64 lowercase hex digits)", cells[i]));
    return std::string(cells[i]);
  }
};

CatalogModel parse_model(const Row& row) {
  if (row.cells.size() != 9) row.error(fmt::format("a model row has 9 fields, this one {}", row.cells.size()));
  CatalogModel m;
  m.name = row.text(1, "name");
  m.family = row.text(2, "family");
  m.quantization = row.text(3, "quantization");
  if (row.cells[4] != "-") {
    for (auto a : split(row.cells[4], ',')) {
      if (a.empty()) row.error("empty alias");
      m.aliases.emplace_back(a);
    }
  }
  if (row.cells[5] != "auto" && row.cells[5] != "pull") row.error("FETCH must be auto or pull");
  m.fetch_by_default = row.cells[5] == "auto";
  const auto bytes = row.cells[6];
  auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), m.bytes);
  if (ec != std::errc() || end != bytes.data() + bytes.size() || m.bytes == 0) {
    row.error(fmt::format("'{}' is not a byte count", bytes));
  }
  m.sha256 = row.sha(7);
  m.hf_url = row.text(8, "Hugging Face URL");
  return m;
}

CatalogPart parse_part(const Row& row) {
  if (row.cells.size() != 5) row.error(fmt::format("a part row has 5 fields, this one {}", row.cells.size()));
  CatalogPart p;
  p.package = row.text(2, "package");
  const size_t eq = p.package.find("==");
  if (eq == std::string::npos || eq == 0 || eq + 2 == p.package.size()) {
    row.error(fmt::format("package '{}' must be pinned as NAME==VERSION", p.package));
  }
  p.wheel_sha256 = row.sha(3);
  p.member = row.text(4, "member path");
  return p;
}

}  // namespace

ModelCatalog ModelCatalog::parse(std::string_view tsv, std::string_view label) {
  ModelCatalog catalog;
  std::map<std::string, std::string> owner;  // lower-cased name or alias → model name
  size_t line_no = 0;
  for (auto line : split(tsv, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    Row row{label, line_no, split(line, '\t')};
    if (row.cells[0] == "model") {
      CatalogModel m = parse_model(row);
      std::vector<std::string> keys = {m.name};
      keys.insert(keys.end(), m.aliases.begin(), m.aliases.end());
      for (const auto& k : keys) {
        auto [it, fresh] = owner.emplace(ascii_lower(k), m.name);
        if (!fresh) row.error(fmt::format("name '{}' is already used by model {}", k, it->second));
      }
      catalog.models_.push_back(std::move(m));
    } else if (row.cells[0] == "part") {
      CatalogPart p = parse_part(row);
      auto it = std::find_if(catalog.models_.begin(), catalog.models_.end(),
                             [&](const CatalogModel& m) { return m.name == row.cells[1]; });
      if (it == catalog.models_.end()) row.error(fmt::format("part of unknown model '{}' (list the model row first)", row.cells[1]));
      it->parts.push_back(std::move(p));
    } else {
      row.error(fmt::format("unknown row kind '{}' (model or part)", row.cells[0]));
    }
  }
  for (const auto& m : catalog.models_) {
    if (m.parts.empty()) fail("model catalog {}: model {} has no part rows", label, m.name);
  }
  return catalog;
}

const ModelCatalog& ModelCatalog::builtin() {
  static const ModelCatalog catalog = parse(kBuiltinModelCatalog, "scripts/model-catalog.tsv");
  return catalog;
}

const CatalogModel* ModelCatalog::find(std::string_view name) const {
  const std::string key = ascii_lower(name);
  for (const auto& m : models_) {
    if (ascii_lower(m.name) == key) return &m;
    for (const auto& a : m.aliases) {
      if (ascii_lower(a) == key) return &m;
    }
  }
  for (const auto& m : models_) {
    if (ascii_lower(m.family) == key) return &m;
  }
  return nullptr;
}

std::string ModelCatalog::describe_names() const {
  std::string out;
  for (const auto& m : models_) {
    if (!out.empty()) out += ", ";
    out += m.name;
    if (!m.aliases.empty()) out += fmt::format(" ({})", fmt::join(m.aliases, ", "));
  }
  return out.empty() ? "none" : out;
}

}  // namespace ragd::engine
