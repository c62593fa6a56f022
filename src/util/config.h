// Config: layered settings as dotted keys ("server.port", "retrieval.top_k").
//
// Layers, later wins: built-in defaults (the callers' fallbacks) < YAML file < environment
// (RAGD_SERVER_PORT sets server.port, see env_key) < command-line flags (set()). Values are
// kept as strings and parsed on read, so a bad value is reported with its key and where it
// came from.
//
// Strictness: check_known() refuses keys nobody reads (a mistyped `prot:` is an error
// naming the key and the closest known one, not silently ignored), and the ranged getters
// refuse values outside what the caller accepts, naming the key, its origin and the range.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ragd {

// A byte size as Config::get_size reads it: "512", "64MiB", "1.5GiB", "256M", "2GB" (K/M/G
// and KiB/MiB/GiB binary, KB/MB/GB decimal, case-insensitive); nullopt when malformed.
std::optional<uint64_t> parse_byte_size(std::string_view text);

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
  // As above, and a configured value must lie in [min, max] (the fallback is not checked).
  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  double get_double(const std::string& key, double fallback, double min, double max) const;
  // A byte size: "512", "64MiB", "1.5GiB", "256M", "2GB" (K/M/G and KiB/MiB/GiB are
  // binary, KB/MB/GB decimal), at least `min` and at most `max` bytes.
  uint64_t get_size(const std::string& key, const std::string& fallback, uint64_t min = 0,
                    uint64_t max = uint64_t{1} << 50) const;

  // Throws ragd::Error for the first key not in `known`: an unknown section ("serverr.port"),
  // an unknown key in a known section ("server.prot"), or a value where a section belongs
  // ("server: 5"). The message names the key and where it came from, and suggests the
  // closest known key when one is near.
  void check_known(const std::vector<std::string>& known) const;
  // The known key nearest to `key` by edit distance, or "" when none is close.
  static std::string closest(const std::string& key, const std::vector<std::string>& known);
  std::vector<std::string> keys() const;

  // "server.port" → "RAGD_SERVER_PORT"
  static std::string env_key(const std::string& key);

 private:
  struct Entry {
    std::string value;
    std::string origin;
  };
  const Entry* entry(const std::string& key) const;
  std::map<std::string, Entry> values_;
};

}  // namespace ragd
