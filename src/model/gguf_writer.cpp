#include "model/gguf_writer.h"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "util/error.h"

namespace ragd::model {

// GGUF is little-endian and we copy numbers verbatim.
static_assert(std::endian::native == std::endian::little, "GGUF writer assumes little-endian");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxAlignment = uint64_t{1} << 20;  // same bound the reader enforces
constexpr size_t kMaxNameLength = 63;                  // GGML_MAX_NAME - 1
constexpr size_t kMaxDims = 4;

void put_raw(std::vector<uint8_t>& out, const void* p, size_t n) {
  auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  put_raw(out, &v, sizeof v);
}
void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  put_raw(out, s.data(), s.size());
}
void put_type(std::vector<uint8_t>& out, GgufType t) {
  put<uint32_t>(out, static_cast<uint32_t>(t));
}

// Header of an array value (element type, count) followed by its body.
void put_array(std::vector<uint8_t>& out, const GgufArrayValue& a) {
  put_type(out, a.elem_type());
  put<uint64_t>(out, a.count());
  put_raw(out, a.body().data(), a.body().size());
}

template <typename T>
std::vector<uint8_t> encode_scalar(GgufType type, T v) {
  std::vector<uint8_t> out;
  put_type(out, type);
  put(out, v);
  return out;
}

uint64_t pad_to(uint64_t n, uint64_t align) { return (n + align - 1) / align * align; }

// Value of an encoded unsigned/signed integer KV, or nullopt for other types.
std::optional<uint64_t> decode_uint(const std::vector<uint8_t>& enc) {
  uint32_t t = 0;
  std::memcpy(&t, enc.data(), 4);
  const uint8_t* p = enc.data() + 4;
  auto load = [p](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (static_cast<GgufType>(t)) {
    case GgufType::U8: return load(uint8_t{});
    case GgufType::U16: return load(uint16_t{});
    case GgufType::U32: return load(uint32_t{});
    case GgufType::U64: return load(uint64_t{});
    case GgufType::I8: if (auto v = load(int8_t{}); v >= 0) return v; break;
    case GgufType::I16: if (auto v = load(int16_t{}); v >= 0) return v; break;
    case GgufType::I32: if (auto v = load(int32_t{}); v >= 0) return v; break;
    case GgufType::I64: if (auto v = load(int64_t{}); v >= 0) return v; break;
    default: break;
  }
  return std::nullopt;
}

}  // namespace

// ---- GgufArrayValue ---------------------------------------------------------------------

template <typename T>
GgufArrayValue GgufArrayValue::numbers(std::span<const T> values) {
  GgufArrayValue a;
  a.elem_type_ = gguf_type_of<T>();
  a.count_ = values.size();
  put_raw(a.body_, values.data(), values.size_bytes());
  return a;
}
template GgufArrayValue GgufArrayValue::numbers<uint8_t>(std::span<const uint8_t>);
template GgufArrayValue GgufArrayValue::numbers<int8_t>(std::span<const int8_t>);
template GgufArrayValue GgufArrayValue::numbers<uint16_t>(std::span<const uint16_t>);
template GgufArrayValue GgufArrayValue::numbers<int16_t>(std::span<const int16_t>);
template GgufArrayValue GgufArrayValue::numbers<uint32_t>(std::span<const uint32_t>);
template GgufArrayValue GgufArrayValue::numbers<int32_t>(std::span<const int32_t>);
template GgufArrayValue GgufArrayValue::numbers<uint64_t>(std::span<const uint64_t>);
template GgufArrayValue GgufArrayValue::numbers<int64_t>(std::span<const int64_t>);
template GgufArrayValue GgufArrayValue::numbers<float>(std::span<const float>);
template GgufArrayValue GgufArrayValue::numbers<double>(std::span<const double>);

GgufArrayValue GgufArrayValue::bools(const std::vector<bool>& values) {
  GgufArrayValue a;
  a.elem_type_ = GgufType::BOOL;
  a.count_ = values.size();
  for (bool b : values) a.body_.push_back(b ? 1 : 0);
  return a;
}

GgufArrayValue GgufArrayValue::strings(std::span<const std::string> values) {
  GgufArrayValue a;
  a.elem_type_ = GgufType::STRING;
  a.count_ = values.size();
  for (const auto& s : values) put_string(a.body_, s);
  return a;
}

GgufArrayValue GgufArrayValue::strings(std::span<const std::string_view> values) {
  GgufArrayValue a;
  a.elem_type_ = GgufType::STRING;
  a.count_ = values.size();
  for (auto s : values) put_string(a.body_, s);
  return a;
}

GgufArrayValue GgufArrayValue::arrays(std::span<const GgufArrayValue> values) {
  GgufArrayValue a;
  a.elem_type_ = GgufType::ARRAY;
  a.count_ = values.size();
  for (const auto& v : values) put_array(a.body_, v);
  return a;
}

GgufArrayValue GgufArrayValue::copy_of(const GgufArray& array) {
  GgufArrayValue a;
  a.elem_type_ = array.elem_type;
  a.count_ = array.count;
  if (array.elem_type == GgufType::STRING) {
    for (auto s : array.strings) put_string(a.body_, s);
  } else if (array.elem_type == GgufType::ARRAY) {
    for (const auto& sub : array.arrays) put_array(a.body_, copy_of(*sub));
  } else {
    // Numeric and bool elements are stored packed little-endian, exactly as on disk.
    put_raw(a.body_, array.raw.data(), array.raw.size());
  }
  return a;
}

// ---- metadata ---------------------------------------------------------------------------

void GgufWriter::set_encoded(std::string key, std::vector<uint8_t> encoded) {
  if (key.empty()) fail("GGUF metadata keys must not be empty");
  for (auto& kv : kv_) {
    if (kv.key == key) {
      kv.encoded = std::move(encoded);
      return;
    }
  }
  kv_.push_back({std::move(key), std::move(encoded)});
}

void GgufWriter::set_u8(std::string key, uint8_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::U8, v));
}
void GgufWriter::set_i8(std::string key, int8_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::I8, v));
}
void GgufWriter::set_u16(std::string key, uint16_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::U16, v));
}
void GgufWriter::set_i16(std::string key, int16_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::I16, v));
}
void GgufWriter::set_u32(std::string key, uint32_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::U32, v));
}
void GgufWriter::set_i32(std::string key, int32_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::I32, v));
}
void GgufWriter::set_u64(std::string key, uint64_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::U64, v));
}
void GgufWriter::set_i64(std::string key, int64_t v) {
  set_encoded(std::move(key), encode_scalar(GgufType::I64, v));
}
void GgufWriter::set_f32(std::string key, float v) {
  set_encoded(std::move(key), encode_scalar(GgufType::F32, v));
}
void GgufWriter::set_f64(std::string key, double v) {
  set_encoded(std::move(key), encode_scalar(GgufType::F64, v));
}
void GgufWriter::set_bool(std::string key, bool v) {
  set_encoded(std::move(key), encode_scalar<uint8_t>(GgufType::BOOL, v ? 1 : 0));
}

void GgufWriter::set_string(std::string key, std::string_view v) {
  std::vector<uint8_t> enc;
  put_type(enc, GgufType::STRING);
  put_string(enc, v);
  set_encoded(std::move(key), std::move(enc));
}

void GgufWriter::set_array(std::string key, const GgufArrayValue& v) {
  std::vector<uint8_t> enc;
  put_type(enc, GgufType::ARRAY);
  put_array(enc, v);
  set_encoded(std::move(key), std::move(enc));
}

void GgufWriter::set_value(std::string key, const GgufValue& value) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          set_string(std::move(key), x);
        } else if constexpr (std::is_same_v<T, bool>) {
          set_bool(std::move(key), x);
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const GgufArray>>) {
          set_array(std::move(key), GgufArrayValue::copy_of(*x));
        } else {
          set_encoded(std::move(key), encode_scalar(gguf_type_of<T>(), x));
        }
      },
      value);
}

void GgufWriter::copy_metadata(const GgufFile& src,
                               const std::function<bool(std::string_view)>& keep) {
  for (const auto& [key, value] : src.metadata()) {
    if (!keep || keep(key)) set_value(key, value);
  }
}

bool GgufWriter::has(std::string_view key) const {
  for (const auto& kv : kv_) {
    if (kv.key == key) return true;
  }
  return false;
}

bool GgufWriter::remove(std::string_view key) {
  for (auto it = kv_.begin(); it != kv_.end(); ++it) {
    if (it->key == key) {
      kv_.erase(it);
      return true;
    }
  }
  return false;
}

void GgufWriter::set_alignment(uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment) {
    fail("GGUF alignment {} is not a power of two up to {}", alignment, kMaxAlignment);
  }
  set_u32("general.alignment", static_cast<uint32_t>(alignment));
}

uint64_t GgufWriter::alignment() const {
  for (const auto& kv : kv_) {
    if (kv.key != "general.alignment") continue;
    auto v = decode_uint(kv.encoded);
    if (!v || *v == 0 || (*v & (*v - 1)) != 0 || *v > kMaxAlignment) {
      fail("general.alignment must be a power of two integer up to {}", kMaxAlignment);
    }
    return *v;
  }
  return kDefaultAlignment;
}

// ---- tensors ----------------------------------------------------------------------------

void GgufWriter::add_tensor_impl(Tensor t) {
  if (t.name.empty() || t.name.size() > kMaxNameLength) {
    fail("tensor name '{}' must be 1..{} bytes long", t.name, kMaxNameLength);
  }
  for (const auto& other : tensors_) {
    if (other.name == t.name) fail("duplicate tensor name '{}'", t.name);
  }
  if (t.dims.empty() || t.dims.size() > kMaxDims) {
    fail("tensor '{}' has {} dimensions (1..{} allowed)", t.name, t.dims.size(), kMaxDims);
  }
  const auto& tr = kernels::traits(t.type);
  uint64_t n = 1;
  for (uint64_t d : t.dims) {
    // Same bounds as the reader, so everything written can be read back.
    if (d == 0 || d > (uint64_t{1} << 40) || n > UINT64_MAX / d / 8) {
      fail("tensor '{}' has an invalid dimension {}", t.name, d);
    }
    n *= d;
  }
  if (t.dims[0] % tr.block_size != 0) {
    fail("tensor '{}': row length {} is not a multiple of the {} block size {}", t.name,
         t.dims[0], tr.name, tr.block_size);
  }
  t.n_bytes = n / tr.block_size * tr.type_size;
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(std::string name, kernels::TensorType type,
                            std::vector<uint64_t> dims, std::span<const uint8_t> data) {
  Tensor t{std::move(name), type, std::move(dims), 0, {}};
  t.produce = [data](const ChunkWriter& write) { write(data.data(), data.size()); };
  std::string name_copy = t.name;
  add_tensor_impl(std::move(t));
  if (tensors_.back().n_bytes != data.size()) {
    uint64_t want = tensors_.back().n_bytes;
    tensors_.pop_back();
    fail("tensor '{}': {} data bytes given, its shape and type need {}", name_copy,
         data.size(), want);
  }
}

void GgufWriter::add_tensor(std::string name, kernels::TensorType type,
                            std::vector<uint64_t> dims, Producer produce) {
  if (!produce) fail("tensor '{}': no data producer", name);
  add_tensor_impl(Tensor{std::move(name), type, std::move(dims), 0, std::move(produce)});
}

uint64_t GgufWriter::data_size() const {
  uint64_t align = alignment(), total = 0;
  for (const auto& t : tensors_) total += pad_to(t.n_bytes, align);
  return total;
}

// ---- output -----------------------------------------------------------------------------

namespace {

// Buffered file output that reports errors with the file name.
class FileSink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {
    f_ = std::fopen(path_.c_str(), "wb");
    if (!f_) fail("cannot create '{}': {}", path_, std::strerror(errno));
    std::setvbuf(f_, nullptr, _IOFBF, 4 << 20);
  }
  ~FileSink() {
    if (f_) std::fclose(f_);
  }
  void write(const void* data, size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, f_) != n) {
      fail("cannot write '{}': {}", path_, std::strerror(errno));
    }
  }
  // Flushes to stable storage and closes, so the rename that follows publishes a whole file.
  void finish() {
    int err = 0;
    if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0) err = errno;
    if (std::fclose(f_) != 0 && err == 0) err = errno;
    f_ = nullptr;
    if (err != 0) fail("cannot write '{}': {}", path_, std::strerror(err));
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

}  // namespace

void GgufWriter::write_to(const ChunkWriter& sink,
                          const std::function<void(size_t)>& after_tensor) const {
  const uint64_t align = alignment();
  std::vector<uint8_t> header;
  put<uint32_t>(header, kMagic);
  put<uint32_t>(header, kVersion);
  put<uint64_t>(header, tensors_.size());
  put<uint64_t>(header, kv_.size());
  for (const auto& kv : kv_) {
    put_string(header, kv.key);
    put_raw(header, kv.encoded.data(), kv.encoded.size());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(header, d);
    put<uint32_t>(header, static_cast<uint32_t>(t.type));
    put<uint64_t>(header, offset);
    offset += pad_to(t.n_bytes, align);
  }
  header.resize(pad_to(header.size(), align), 0);
  sink(header.data(), header.size());

  const std::vector<uint8_t> zeros(align, 0);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    uint64_t written = 0;
    ChunkWriter chunk = [&](const void* data, size_t n) {
      if (n > t.n_bytes - written) {
        fail("tensor '{}': producer wrote more than its {} bytes", t.name, t.n_bytes);
      }
      sink(data, n);
      written += n;
    };
    t.produce(chunk);
    if (written != t.n_bytes) {
      fail("tensor '{}': producer wrote {} of its {} bytes", t.name, written, t.n_bytes);
    }
    sink(zeros.data(), pad_to(t.n_bytes, align) - t.n_bytes);
    if (after_tensor) after_tensor(i);
  }
}

void GgufWriter::write(const std::string& path,
                       const std::function<void(size_t)>& after_tensor) const {
  const std::string part = path + ".part";
  try {
    FileSink sink(part);
    write_to([&](const void* p, size_t n) { sink.write(p, n); }, after_tensor);
    sink.finish();
  } catch (...) {
    ::unlink(part.c_str());
    throw;
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(part.c_str());
    fail("cannot rename '{}' to '{}': {}", part, path, std::strerror(e));
  }
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  write_to([&](const void* p, size_t n) { put_raw(out, p, n); }, {});
  return out;
}

}  // namespace ragd::model
