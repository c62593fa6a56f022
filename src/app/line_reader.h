// Reading the lines of an interactive terminal session (ragd chat): with line editing and a
// history that persists across sessions (libedit) when stdin is a terminal, plain lines
// otherwise (pipes, files), so scripts drive the chat the same way.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ragd::app {

class LineReader {
 public:
  // history_file: where the history is read from now and appended to on each line (empty:
  // no history). Only used on a terminal.
  explicit LineReader(std::filesystem::path history_file);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool interactive() const { return tty_; }
  // The next line without its newline, or nothing at end of input (Ctrl-D).
  std::optional<std::string> read(const char* prompt);

 private:
  bool tty_;
  std::filesystem::path history_file_;
};

// $RAGD_HISTORY, else ~/.ragd_history (empty when HOME is unset).
std::filesystem::path default_history_file();

}  // namespace ragd::app
