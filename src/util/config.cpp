#include "util/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include "util/error.h"

namespace ragd {
namespace {

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
             std::map<std::string, std::pair<std::string, std::string>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      // A list or mapping used as a key ("[a]: 1") has no dotted name (and as<> would throw
      // YAML's own exception, not an error naming the file).
      if (!kv.first.IsScalar()) {
        fail("{}: {}keys must be plain words, not lists or mappings", origin,
             prefix.empty() ? "" : "'" + prefix + "': ");
      }
      const auto key = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? key : prefix + "." + key, origin, out);
    }
  } else if (node.IsSequence()) {
    // Lists are stored comma-separated: the settings that take lists are lists of words.
    std::string joined;
    for (const auto& item : node) {
      if (!item.IsScalar()) fail("{}: '{}' must be a list of plain values", origin, prefix);
      if (!joined.empty()) joined += ",";
      joined += item.as<std::string>();
    }
    out[prefix] = {joined, origin};
  } else if (node.IsScalar()) {
    out[prefix] = {node.as<std::string>(), origin};
  } else if (node.IsNull() && !prefix.empty()) {
    out[prefix] = {"", origin};
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string section_of(const std::string& key) {
  size_t dot = key.find('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

}  // namespace

void Config::load_yaml_string(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail("{}: invalid YAML: {}", origin, e.what());
  }
  if (!root.IsNull() && !root.IsMap()) fail("{}: the top level must be a mapping", origin);
  std::map<std::string, std::pair<std::string, std::string>> flat;
  flatten(root, "", origin, flat);
  for (auto& [k, v] : flat) values_[k] = {v.first, v.second};
}

void Config::load_yaml_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail("cannot read config file '{}'", path);
  } catch (const YAML::Exception& e) {
    fail("{}: invalid YAML: {}", path, e.what());
  }
  load_yaml_string(YAML::Dump(root), path);
}

std::string Config::env_key(const std::string& key) {
  std::string out = "RAGD_";
  for (char c : key) out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void Config::load_environment(const std::vector<std::string>& known_keys) {
  for (const auto& key : known_keys) {
    const std::string name = env_key(key);
    if (const char* v = std::getenv(name.c_str())) values_[key] = {v, "environment " + name};
  }
}

void Config::set(const std::string& key, const std::string& value, const std::string& origin) {
  values_[key] = {value, origin};
}

const Config::Entry* Config::entry(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

std::optional<std::string> Config::raw(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second.value;
}

std::string Config::get_string(const std::string& key, const std::string& fallback) const {
  return raw(key).value_or(fallback);
}

int64_t Config::get_int(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const auto& s = it->second.value;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    fail("{}: '{}' must be an integer, got '{}'", it->second.origin, key, s);
  }
  return v;
}

double Config::get_double(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const auto& s = it->second.value;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) {
    fail("{}: '{}' must be a number, got '{}'", it->second.origin, key, s);
  }
  return v;
}

bool Config::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  std::string s = it->second.value;
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  fail("{}: '{}' must be true or false, got '{}'", it->second.origin, key, it->second.value);
}

int64_t Config::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  int64_t v = get_int(key, fallback);
  if (const Entry* e = entry(key); e && (v < min || v > max)) {
    fail("{}: '{}' must be between {} and {}, got {}", e->origin, key, min, max, e->value);
  }
  return v;
}

double Config::get_double(const std::string& key, double fallback, double min, double max) const {
  double v = get_double(key, fallback);
  if (const Entry* e = entry(key); e && !(v >= min && v <= max)) {
    fail("{}: '{}' must be between {} and {}, got {}", e->origin, key, min, max, e->value);
  }
  return v;
}

std::optional<uint64_t> parse_byte_size(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string number(text.substr(0, i)), unit(text.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  static const std::map<std::string, double> units = {
      {"", 1},        {"b", 1},   {"k", 1024},        {"kb", 1e3}, {"kib", 1024},      {"m", 1 << 20},
      {"mb", 1e6},    {"mib", 1 << 20}, {"g", 1 << 30}, {"gb", 1e9}, {"gib", 1 << 30}};
  auto unit_it = units.find(unit);
  if (number.empty() || end != number.c_str() + number.size() || unit_it == units.end()) return std::nullopt;
  const double bytes = std::floor(value * unit_it->second);
  // 2^63 is far beyond any memory or file; above it the conversion would be undefined.
  if (!(bytes < 9.2e18)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

uint64_t Config::get_size(const std::string& key, const std::string& fallback, uint64_t min, uint64_t max) const {
  const Entry* e = entry(key);
  const std::string& text = e ? e->value : fallback;
  const std::string origin = e ? e->origin : "default";
  const auto bytes = parse_byte_size(text);
  if (!bytes) {
    fail("{}: '{}' must be a size like 268435456, 256MiB or 1GiB (at least {} bytes), got '{}'", origin, key, min,
         text);
  }
  if (*bytes < min || *bytes > max) {
    fail("{}: '{}' must be between {} and {} bytes, got '{}'", origin, key, min, max, text);
  }
  return *bytes;
}

std::string Config::closest(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = std::string::npos;
  const bool bare = key.find('.') == std::string::npos;
  for (const auto& k : known) {
    size_t d = edit_distance(key, k);
    // A bare word ("prot") may be a misplaced or mistyped leaf: compare with the leaf too.
    if (bare) d = std::min(d, edit_distance(key, k.substr(k.rfind('.') + 1)));
    if (d < best_distance) best_distance = d, best = k;
  }
  // Near enough to be a typo: a few edits, and well under the key's own length.
  if (best.empty() || best_distance > std::max<size_t>(2, key.size() / 3)) return "";
  return best;
}

void Config::check_known(const std::vector<std::string>& known) const {
  const std::set<std::string> keys(known.begin(), known.end());
  std::set<std::string> sections;
  for (const auto& k : known) sections.insert(section_of(k));
  for (const auto& [key, e] : values_) {
    if (keys.count(key)) continue;
    const std::string section = section_of(key);
    if (sections.count(key)) {
      if (e.value.empty()) continue;  // an empty section ("server:" with its keys commented out)
      fail("{}: '{}' is a section, not a value: it holds keys like '{}'", e.origin, key,
           *std::find_if(known.begin(), known.end(), [&](const std::string& k) { return section_of(k) == key; }));
    }
    std::string message;
    if (!section.empty() && !sections.count(section)) {
      message = fmt::format("{}: unknown section '{}' (in '{}')", e.origin, section, key);
    } else {
      message = fmt::format("{}: unknown setting '{}'", e.origin, key);
    }
    // A known key given a nested value ("server.port.x") is closest to that key itself.
    std::string hint = closest(key, known);
    for (const auto& k : known) {
      if (key.rfind(k + ".", 0) == 0) hint = k;
    }
    if (!hint.empty()) {
      message += fmt::format("; did you mean '{}'?", hint);
    } else {
      std::vector<std::string> names(sections.begin(), sections.end());
      message += fmt::format("; known sections: {}", fmt::join(names, ", "));
    }
    message += " (docs/serving.md lists every setting)";
    throw Error(message);
  }
}

std::vector<std::string> Config::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) out.push_back(k);
  return out;
}

}  // namespace ragd
