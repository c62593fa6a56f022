// Small text helpers shared across layers.
#pragma once

#include <string>
#include <string_view>

namespace ragd {

// ASCII letters lowered; other bytes (UTF-8 included) unchanged.
std::string ascii_lower(std::string_view s);

// The whole file as text; "" when it cannot be read (callers treat that as "unknown",
// e.g. a /proc or /sys file missing in a container).
std::string read_text_file(const char* path);

}  // namespace ragd
