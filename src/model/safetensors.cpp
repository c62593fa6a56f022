#include "model/safetensors.h"


#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "kernels/quants.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace ragd::model {
namespace {

// The reference implementation refuses headers above 100 MB; so do we (a hostile length
// must not make us parse or allocate without bound).
constexpr uint64_t kMaxHeader = uint64_t{100} << 20;

struct DtypeInfo {
  StDtype dtype;
  std::string_view name;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {StDtype::BOOL, "BOOL", 1}, {StDtype::U8, "U8", 1},     {StDtype::I8, "I8", 1},
    {StDtype::I16, "I16", 2},   {StDtype::U16, "U16", 2},   {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2}, {StDtype::I32, "I32", 4},   {StDtype::U32, "U32", 4},
    {StDtype::F32, "F32", 4},   {StDtype::F64, "F64", 8},   {StDtype::I64, "I64", 8},
    {StDtype::U64, "U64", 8},
};

const DtypeInfo& info(StDtype d) {
  for (const auto& i : kDtypes) {
    if (i.dtype == d) return i;
  }
  throw Error("unknown safetensors dtype");  // unreachable: every enumerator is listed
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t json_u64(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_unsigned()) fail("{} is not a non-negative integer", what);
  return v.get<uint64_t>();
}

}  // namespace

std::string_view st_dtype_name(StDtype dtype) { return info(dtype).name; }
size_t st_dtype_size(StDtype dtype) { return info(dtype).size; }

bool SafetensorsTensor::is_float() const {
  return dtype == StDtype::F32 || dtype == StDtype::F16 || dtype == StDtype::BF16;
}

void SafetensorsTensor::to_f32(float* out) const { to_f32(0, n_elements, out); }

void SafetensorsTensor::to_f32(uint64_t first, uint64_t n, float* out) const {
  if (first > n_elements || n > n_elements - first) {
    fail("tensor '{}': elements [{}, {}) out of range ({})", name, first, first + n, n_elements);
  }
  // Nothing to copy: an empty tensor's data may be a null pointer, which memcpy must not get.
  if (n == 0) return;
  const size_t es = st_dtype_size(dtype);
  const uint8_t* p = data.data() + first * es;
  // memcpy per element: the buffer has no alignment guarantee.
  switch (dtype) {
    case StDtype::F32:
      std::memcpy(out, p, n * sizeof(float));
      return;
    case StDtype::F16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = kernels::fp16_to_fp32(h);
      }
      return;
    case StDtype::BF16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = kernels::bf16_to_fp32(h);
      }
      return;
    default:
      fail("tensor '{}' has dtype {}; only F32, F16 and BF16 tensors can be read as floats",
           name, st_dtype_name(dtype));
  }
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->mapping_ = std::make_unique<MappedFile>(path);
  f->bytes_ = f->mapping_->bytes();
  f->parse_all();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(std::span<const uint8_t> bytes,
                                                        std::string label) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = std::move(label);
  f->bytes_ = bytes;
  f->parse_all();
  return f;
}

SafetensorsFile::~SafetensorsFile() = default;

void SafetensorsFile::parse_all() {
  const std::string& p = path_;
  if (bytes_.size() < 8) fail("'{}' is not a safetensors file: only {} bytes", p, bytes_.size());
  const uint64_t n = read_u64_le(bytes_.data());
  if (n < 2 || n > kMaxHeader || n > bytes_.size() - 8) {
    fail("'{}' is not a safetensors file or is truncated: header length {} for a {}-byte file",
         p, n, bytes_.size());
  }
  const char* hdr = reinterpret_cast<const char*>(bytes_.data() + 8);
  nlohmann::json j = nlohmann::json::parse(hdr, hdr + n, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail("'{}': the safetensors header is not a JSON object", p);
  const std::span<const uint8_t> buffer = bytes_.subspan(8 + n);

  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) fail("__metadata__ is not an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string()) fail("__metadata__ value '{}' is not a string", m.key());
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!v.is_object()) fail("tensor '{}': entry is not an object", name);
      if (!v.contains("dtype") || !v["dtype"].is_string()) fail("tensor '{}': no dtype", name);
      const std::string dt = v["dtype"].get<std::string>();
      const DtypeInfo* di = nullptr;
      for (const auto& i : kDtypes) {
        if (i.name == dt) di = &i;
      }
      if (!di) fail("tensor '{}': unsupported dtype '{}'", name, dt);
      if (!v.contains("shape") || !v["shape"].is_array()) fail("tensor '{}': no shape", name);
      if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
          v["data_offsets"].size() != 2) {
        fail("tensor '{}': data_offsets must be [begin, end]", name);
      }
      SafetensorsTensor t;
      t.name = name;
      t.dtype = di->dtype;
      uint64_t count = 1;
      for (const auto& d : v["shape"]) {
        const uint64_t dim = json_u64(d, fmt::format("tensor '{}': a shape entry", name));
        // Overflow-safe product: any count above the buffer size is wrong anyway.
        if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / dim) {
          fail("tensor '{}': shape overflows", name);
        }
        count *= dim;
        t.shape.push_back(dim);
      }
      const uint64_t begin = json_u64(v["data_offsets"][0], "data_offsets[0]");
      const uint64_t end = json_u64(v["data_offsets"][1], "data_offsets[1]");
      if (begin > end || end > buffer.size()) {
        fail("tensor '{}': data_offsets [{}, {}) outside the {}-byte data buffer", name, begin,
             end, buffer.size());
      }
      if (count > (end - begin) / di->size || count * di->size != end - begin) {
        fail("tensor '{}': {} elements of {} do not fill data_offsets [{}, {})", name, count, dt,
             begin, end);
      }
      t.n_elements = count;
      t.data = buffer.subspan(begin, end - begin);
      tensors_.push_back(std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("'{}': malformed safetensors header: {}", p, e.what());
  } catch (const Error& e) {
    fail("'{}': {}", p, e.what());
  }

  // Overlapping ranges would let two tensors alias each other's bytes: refuse them.
  std::vector<const SafetensorsTensor*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return a->data.data() < b->data.data(); });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    if (prev->data.data() + prev->data.size() > by_offset[i]->data.data()) {
      fail("'{}': tensors '{}' and '{}' overlap", p, prev->name, by_offset[i]->name);
    }
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const SafetensorsTensor& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const SafetensorsTensor& SafetensorsFile::tensor(std::string_view name) const {
  const SafetensorsTensor* t = find(name);
  if (!t) fail("'{}' has no tensor '{}'", path_, name);
  return *t;
}

}  // namespace ragd::model
