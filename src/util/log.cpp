#include "util/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "util/error.h"

namespace ragd::log {

void init(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    fail("unknown log level '{}' (use trace, debug, info, warn, error or off)", level);
  }
  auto logger = spdlog::stderr_color_mt("ragd");
  logger->set_pattern("%^[%Y-%m-%d %H:%M:%S.%e] [%l]%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
}

}  // namespace ragd::log
