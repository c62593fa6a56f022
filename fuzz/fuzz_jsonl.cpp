// The JSONL document reader (rag/document_reader.h) as `ragd ingest` and uploads use it:
// the input is written to a .jsonl file and read record by record. Bad records are
// counted and skipped; nothing may throw except ragd::Error.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "rag/ingest/document_reader.h"
#include "util/error.h"
#include "util/log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ragd::fuzz::ScratchDir dir;
  const auto path = dir.write("fuzz.jsonl", ragd::fuzz::as_text(data, size));
  try {
    auto reader = ragd::rag::open_document_reader(path, ragd::rag::FileKind::Jsonl);
    while (auto doc = reader->next()) {
      RAGD_FUZZ_CHECK(!doc->external_id.empty() && doc->metadata.is_object());
    }
    // The progress count adds a newline for a last line that has none (hence + 1).
    RAGD_FUZZ_CHECK(reader->bytes_read() <= size + 1);
  } catch (const ragd::Error&) {
  }
  return 0;
}
