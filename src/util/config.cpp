#include "util/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "util/error.h"

namespace ragd {
namespace {

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
             std::map<std::string, std::pair<std::string, std::string>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
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

std::vector<std::string> Config::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) out.push_back(k);
  return out;
}

}  // namespace ragd
