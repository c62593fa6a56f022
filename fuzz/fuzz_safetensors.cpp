// safetensors reader: header length, JSON header (dtypes, shapes, data_offsets, metadata),
// overlap and bounds checks, then float conversion of every float tensor.
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "model/safetensors.h"
#include "util/error.h"

using namespace ragd::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<SafetensorsFile> f;
  try {
    f = SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz.safetensors");
  } catch (const ragd::Error&) {
    return 0;
  }
  std::vector<float> out;
  for (const SafetensorsTensor& t : f->tensors()) {
    RAGD_FUZZ_CHECK(t.data.size() == t.n_elements * st_dtype_size(t.dtype));
    RAGD_FUZZ_CHECK(t.data.data() >= data && t.data.data() + t.data.size() <= data + size);
    if (!t.is_float()) continue;
    out.resize(t.n_elements);
    t.to_f32(out.data());
  }
  return 0;
}
