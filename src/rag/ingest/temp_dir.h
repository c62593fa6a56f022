// A fresh private directory under $TMPDIR (or /tmp), removed with everything in it when
// the object is destroyed (unless keep() was called).
#pragma once

#include <filesystem>
#include <string>

namespace ragd::rag {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ragd");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace ragd::rag
