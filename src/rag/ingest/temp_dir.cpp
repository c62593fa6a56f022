#include "rag/ingest/temp_dir.h"

#include <cstdlib>
#include <vector>

#include "util/error.h"

namespace ragd::rag {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::filesystem::path dir = base && *base ? base : "/tmp";
  std::string templ = (dir / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) fail("cannot create a temporary directory in {}", dir.string());
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace ragd::rag
