// Crash-safe replacement of a file's content: write a temporary file next to it, fsync it,
// rename it over the target, fsync the directory. After a crash or power loss at any point,
// the target holds either its old content or the new one, never a truncated mix (readers
// must still validate: a file can be damaged by other means, and callers that cache derived
// data check it against its source anyway).
#pragma once

#include <filesystem>
#include <string_view>

namespace ragd {

// Writes `bytes` to `path` + ".tmp" and commits it as below. Throws ragd::Error naming the
// file (e.g. "No space left on device"); the target is untouched then and the temporary
// file removed.
void write_file_durably(const std::filesystem::path& path, std::string_view bytes);

// Commits a temporary file that another writer produced: fsync `tmp`, rename it over
// `path`, fsync the parent directory. Throws ragd::Error (removing `tmp`) on failure.
void commit_file_durably(const std::filesystem::path& tmp, const std::filesystem::path& path);

}  // namespace ragd
