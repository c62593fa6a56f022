#include "app/line_reader.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace ragd::app {

LineReader::LineReader(std::filesystem::path history_file)
    : tty_(isatty(fileno(stdin)) != 0), history_file_(std::move(history_file)) {
  if (!tty_) return;
  using_history();
  if (!history_file_.empty()) read_history(history_file_.c_str());  // absent at first: fine
}

LineReader::~LineReader() {
  if (tty_) clear_history();
}

std::optional<std::string> LineReader::read(const char* prompt) {
  if (!tty_) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    return line;
  }
  char* raw = readline(prompt);
  if (!raw) return std::nullopt;
  std::string line(raw);
  std::free(raw);
  if (!line.empty()) {
    add_history(line.c_str());
    // Appended line by line, so a session that is killed keeps what it had typed.
    if (!history_file_.empty()) write_history(history_file_.c_str());
  }
  return line;
}

std::filesystem::path default_history_file() {
  if (const char* env = std::getenv("RAGD_HISTORY"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".ragd_history";
  return {};
}

}  // namespace ragd::app
