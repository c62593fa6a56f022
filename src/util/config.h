// Config: layered settings as dotted keys ("server.port", "retrieval.top_k").
//
// Layers, later wins: built-in defaults (the callers' fallbacks) < YAML file < environment
// (RAGD_SERVER_PORT sets server.port, see env_key) < command-line flags (set()). Values are
// kept as strings and parsed on read, so a bad value is reported with its key and where it
// came from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ragd {

class Config {
 public:
  // Flattens a YAML mapping into dotted keys. Throws ragd::Error on unreadable/invalid YAML.
  void load_yaml_file(const std::string& path);
  void load_yaml_string(const std::string& text, const std::string& origin = "<string>");
  // Reads RAGD_* variables for every key in `known_keys` (see env_key).
  void load_environment(const std::vector<std::string>& known_keys);
  void set(const std::string& key, const std::string& value, const std::string& origin = "flag");

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::optional<std::string> raw(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<std::string> keys() const;

  // "server.port" → "RAGD_SERVER_PORT"
  static std::string env_key(const std::string& key);

 private:
  struct Entry {
    std::string value;
    std::string origin;
  };
  std::map<std::string, Entry> values_;
};

}  // namespace ragd
