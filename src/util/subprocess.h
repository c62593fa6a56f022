// run_program: runs an external tool (pip, python) and waits for it.
//
// Safe to call from any thread of `ragd serve`: the child is started with posix_spawn (no
// copy of the server's address space), with an empty signal mask and default dispositions
// for the signals the server blocks or ignores (so it can be interrupted like any
// program), and it inherits nothing but stdin, stdout and stderr (not the server's
// sockets or model files).
//
// With `on_output`, the child's stdout (and its stderr too when `merge_stderr`) is a pipe
// whose bytes are passed to on_output as they arrive; without it, the child's stdout is
// sent to our stderr, because a tool's chatter is diagnostics, never our output.
// If on_output throws, the child is killed and reaped before the exception propagates:
// no process or descriptor outlives the call.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ragd {

using ProgramOutputFn = std::function<void(std::span<const uint8_t>)>;

// argv[0] is looked up in PATH. Returns the exit status; 127 when the program could not be
// started, 128 + n when signal n killed it. Throws ragd::Error when no pipe can be made.
int run_program(const std::vector<std::string>& argv, const ProgramOutputFn& on_output = {},
                bool merge_stderr = false);

}  // namespace ragd
