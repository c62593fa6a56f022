// Helpers shared by the rag tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace ragd::rag::testing {

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

inline std::filesystem::path scifact_dir() {
  return std::filesystem::path(RAGD_SHARED_DIR) / "data" / "beir" / "scifact";
}

}  // namespace ragd::rag::testing
