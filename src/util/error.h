// ragd::Error is the one exception type for errors a user can cause (bad file, bad
// flag, bad config, corrupt model). Its message is meant to be printed as-is: it says
// what went wrong and, where possible, what to do next. Exceptions never cross thread
// boundaries: worker code catches and turns them into status values.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ragd {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws ragd::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace ragd
