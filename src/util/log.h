// Logging goes through spdlog's default logger, which writes to stderr so that stdout
// stays clean for command output (ids, generated text, JSON).
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace ragd::log {

// Level names: trace, debug, info, warn, error, off. Unknown names raise ragd::Error.
void init(std::string_view level);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace ragd::log
