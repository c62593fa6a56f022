// Runs a risky computation on untrusted bytes (e.g. PDF parsing, where a 178 KB decompression
// bomb can make a parser allocate gigabytes) in a forked child process with bounded memory,
// CPU time, wall-clock time and output size. Whatever the child allocates dies with it: the
// calling process's memory does not grow, and a crash, hang or runaway allocation in the
// child becomes an error here.
//
// The child is a fork() of a possibly multi-threaded process, so `work` must not rely on locks
// that another thread could have held at the fork (no logging; allocation is fine with glibc).
// A child that deadlocks anyway is killed at the wall-clock limit.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ragd::rag {

struct ChildLimits {
  size_t memory_mib = 512;         // address space the child may add to what it inherited
  unsigned cpu_seconds = 30;       // RLIMIT_CPU of the child
  unsigned wall_seconds = 60;      // the child is killed after this long
  size_t max_output_bytes = 64u << 20;
};

// How run_bounded_child ended.
enum class ChildOutcome {
  Ok,            // `output` holds what `work` returned
  Failed,        // `work` threw: `output` holds the message
  OutOfLimits,   // memory, CPU or wall-clock limit reached, or the child crashed
  OutputTooBig,  // the result exceeded max_output_bytes
};

struct ChildResult {
  ChildOutcome outcome;
  std::string output;
};

// Forks, runs `work` in the child and returns its result (or its exception's what()).
// Throws ragd::Error only when the child cannot be started at all.
ChildResult run_bounded_child(const std::function<std::string()>& work, const ChildLimits& limits);

}  // namespace ragd::rag
