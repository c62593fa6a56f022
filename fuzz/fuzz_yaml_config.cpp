// The YAML config loader (util/config.h): any text either loads into dotted keys or throws
// ragd::Error; typed reads of every key either parse or throw ragd::Error.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "util/config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ragd::Config config;
  try {
    config.load_yaml_string(std::string(ragd::fuzz::as_text(data, size)), "fuzz.yaml");
  } catch (const ragd::Error&) {
    return 0;
  }
  for (const std::string& key : config.keys()) {
    RAGD_FUZZ_CHECK(config.has(key));
    (void)config.get_string(key, "");
    try {
      (void)config.get_int(key, 0);
    } catch (const ragd::Error&) {
    }
    try {
      (void)config.get_double(key, 0);
    } catch (const ragd::Error&) {
    }
    try {
      (void)config.get_bool(key, false);
    } catch (const ragd::Error&) {
    }
  }
  return 0;
}
