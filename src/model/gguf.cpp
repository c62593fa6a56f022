#include "model/gguf.h"


#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "util/error.h"
#include "util/mapped_file.h"

namespace ragd::model {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxDims = 4;
// Nesting bound for arrays of arrays: keeps a hostile file from exhausting the stack.
constexpr int kMaxArrayDepth = 8;

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::BOOL:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    default:
      return 0;
  }
}

// Bounds-checked little-endian cursor over the file image.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& label) : b_(bytes), label_(label) {}

  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }

  const uint8_t* take(uint64_t n, const char* what) {
    if (n > left()) {
      fail("{}: truncated or corrupt GGUF: {} needs {} bytes at offset {}, file has {} left",
           label_, what, n, pos_, left());
    }
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  template <typename T>
  T read(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }
  std::string_view read_string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    auto* p = take(n, what);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
  }
  GgufType read_type(const char* what) {
    uint32_t t = read<uint32_t>(what);
    if (t > static_cast<uint32_t>(GgufType::F64)) {
      fail("{}: corrupt GGUF: unknown value type {} for {} at offset {}", label_, t, what,
           pos_ - 4);
    }
    return static_cast<GgufType>(t);
  }

  GgufValue read_value(GgufType t, const char* what, int depth) {
    switch (t) {
      case GgufType::U8: return read<uint8_t>(what);
      case GgufType::I8: return read<int8_t>(what);
      case GgufType::U16: return read<uint16_t>(what);
      case GgufType::I16: return read<int16_t>(what);
      case GgufType::U32: return read<uint32_t>(what);
      case GgufType::I32: return read<int32_t>(what);
      case GgufType::F32: return read<float>(what);
      case GgufType::BOOL: {
        uint8_t v = read<uint8_t>(what);
        if (v > 1) fail("{}: corrupt GGUF: bool value {} for {}", label_, v, what);
        return v == 1;
      }
      case GgufType::STRING: return read_string(what);
      case GgufType::ARRAY: return read_array(what, depth + 1);
      case GgufType::U64: return read<uint64_t>(what);
      case GgufType::I64: return read<int64_t>(what);
      case GgufType::F64: return read<double>(what);
    }
    fail("{}: corrupt GGUF: bad value type for {}", label_, what);
  }

  std::shared_ptr<const GgufArray> read_array(const char* what, int depth) {
    if (depth > kMaxArrayDepth) fail("{}: corrupt GGUF: arrays nested too deeply", label_);
    auto arr = std::make_shared<GgufArray>();
    arr->elem_type = read_type(what);
    arr->count = read<uint64_t>(what);
    if (size_t sz = scalar_size(arr->elem_type)) {
      if (arr->count > left() / sz) {
        fail("{}: truncated or corrupt GGUF: array {} claims {} elements, only {} bytes left",
             label_, what, arr->count, left());
      }
      arr->raw = {take(arr->count * sz, what), static_cast<size_t>(arr->count * sz)};
      if (arr->elem_type == GgufType::BOOL) {
        for (uint8_t v : arr->raw) {
          if (v > 1) fail("{}: corrupt GGUF: bool value {} in array {}", label_, v, what);
        }
      }
    } else if (arr->elem_type == GgufType::STRING) {
      // Each string takes at least its 8-byte length: bound the count before reserving.
      if (arr->count > left() / 8) {
        fail("{}: truncated or corrupt GGUF: array {} claims {} strings, only {} bytes left",
             label_, what, arr->count, left());
      }
      arr->strings.reserve(arr->count);
      for (uint64_t i = 0; i < arr->count; ++i) arr->strings.push_back(read_string(what));
    } else {  // ARRAY of arrays: each needs at least 12 bytes of header
      if (arr->count > left() / 12) {
        fail("{}: truncated or corrupt GGUF: array {} claims {} sub-arrays", label_, what,
             arr->count);
      }
      for (uint64_t i = 0; i < arr->count; ++i) arr->arrays.push_back(read_array(what, depth + 1));
    }
    return arr;
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& label_;
  size_t pos_ = 0;
};

template <typename Out>
bool to_uint(const GgufValue& v, Out& out) {
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_signed_v<T>) {
            if (x < 0) return false;
          }
          out = static_cast<Out>(x);
          return true;
        } else {
          return false;
        }
      },
      v);
}

}  // namespace

std::string_view gguf_type_name(GgufType type) {
  static constexpr std::string_view names[] = {"u8",  "i8",   "u16",    "i16",   "u32",
                                               "i32", "f32",  "bool",   "string", "array",
                                               "u64", "i64",  "f64"};
  auto i = static_cast<uint32_t>(type);
  return i < std::size(names) ? names[i] : "?";
}

namespace {
// Converts one array element to T. A value T cannot hold (NaN, out of range) is corrupt
// data for the caller and raises ragd::Error: a plain cast would be undefined behaviour for
// floats and silently wrap for integers.
template <typename T, typename S>
T convert_element(S v, uint64_t index) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<S>) {
    // Bounds as long double are exact for 64-bit integers (min and max + 1 are powers of 2).
    const long double lo = static_cast<long double>(std::numeric_limits<T>::min());
    const long double hi = static_cast<long double>(std::numeric_limits<T>::max()) + 1.0L;
    const long double x = v;
    if (!(x >= lo && x < hi)) fail("GGUF array element {} ({}) is out of range", index, v);
    return static_cast<T>(v);
  } else {
    if (!std::in_range<T>(v)) fail("GGUF array element {} ({}) is out of range", index, v);
    return static_cast<T>(v);
  }
}
}  // namespace

template <typename T>
std::vector<T> GgufArray::as() const {
  std::vector<T> out;
  size_t sz = scalar_size(elem_type);
  if (sz == 0) fail("GGUF array of {} is not numeric", gguf_type_name(elem_type));
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* p = raw.data() + i * sz;
    auto load = [&](auto tag) {
      decltype(tag) v;
      std::memcpy(&v, p, sizeof v);
      return convert_element<T>(v, i);
    };
    switch (elem_type) {
      case GgufType::U8: out.push_back(load(uint8_t{})); break;
      case GgufType::I8: out.push_back(load(int8_t{})); break;
      case GgufType::BOOL: out.push_back(load(uint8_t{})); break;
      case GgufType::U16: out.push_back(load(uint16_t{})); break;
      case GgufType::I16: out.push_back(load(int16_t{})); break;
      case GgufType::U32: out.push_back(load(uint32_t{})); break;
      case GgufType::I32: out.push_back(load(int32_t{})); break;
      case GgufType::F32: out.push_back(load(float{})); break;
      case GgufType::U64: out.push_back(load(uint64_t{})); break;
      case GgufType::I64: out.push_back(load(int64_t{})); break;
      case GgufType::F64: out.push_back(load(double{})); break;
      default: break;
    }
  }
  return out;
}
template std::vector<float> GgufArray::as<float>() const;
template std::vector<int32_t> GgufArray::as<int32_t>() const;
template std::vector<uint32_t> GgufArray::as<uint32_t>() const;
template std::vector<int64_t> GgufArray::as<int64_t>() const;
template std::vector<uint64_t> GgufArray::as<uint64_t>() const;
template std::vector<double> GgufArray::as<double>() const;

uint64_t GgufTensor::rows() const {
  uint64_t r = 1;
  for (size_t i = 1; i < dims.size(); ++i) r *= dims[i];
  return r;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->mapping_ = std::make_unique<MappedFile>(path);
  f->bytes_ = f->mapping_->bytes();
  f->parse_all();
  return f;
}

void GgufFile::release(const void* data, size_t bytes) const {
  if (mapping_) mapping_->release({static_cast<const uint8_t*>(data), bytes});
}

std::unique_ptr<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, std::string label) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(label);
  f->bytes_ = bytes;
  f->parse_all();
  return f;
}

GgufFile::~GgufFile() = default;

void GgufFile::parse_all() {
  Reader r(bytes_, path_);
  if (bytes_.size() < 4 || r.read<uint32_t>("magic") != kMagic) {
    fail("'{}' is not a GGUF file (bad magic)", path_);
  }
  version_ = r.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    fail("'{}': GGUF version {} is not supported (only 2 and 3)", path_, version_);
  }
  uint64_t n_tensors = r.read<uint64_t>("tensor count");
  uint64_t n_kv = r.read<uint64_t>("metadata count");
  // Each KV needs >= 12 bytes, each tensor info >= 24: reject absurd counts up front.
  if (n_kv > r.left() / 12 || n_tensors > r.left() / 24) {
    fail("'{}': corrupt GGUF header: {} tensors / {} metadata entries cannot fit in {} bytes",
         path_, n_tensors, n_kv, bytes_.size());
  }
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key(r.read_string("metadata key"));
    GgufType t = r.read_type(key.c_str());
    GgufValue v = r.read_value(t, key.c_str(), 0);
    if (!kv_index_.emplace(key, kv_.size()).second) {
      fail("'{}': corrupt GGUF: duplicate metadata key '{}'", path_, key);
    }
    kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const GgufValue* a = find("general.alignment")) {
    uint64_t al = 0;
    if (!to_uint(*a, al) || al == 0 || (al & (al - 1)) != 0 || al > 1 << 20) {
      fail("'{}': general.alignment must be a power of two", path_);
    }
    alignment_ = al;
  }
  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = std::string(r.read_string("tensor name"));
    uint32_t n_dims = r.read<uint32_t>("tensor dims");
    if (n_dims == 0 || n_dims > kMaxDims) {
      fail("'{}': tensor '{}' has {} dimensions (1..4 allowed)", path_, t.name, n_dims);
    }
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = r.read<uint64_t>("tensor dim");
      if (dim == 0 || dim > (uint64_t{1} << 40) ||
          t.n_elements > std::numeric_limits<uint64_t>::max() / dim / 8) {
        fail("'{}': tensor '{}' has an invalid dimension {}", path_, t.name, dim);
      }
      t.dims.push_back(dim);
      t.n_elements *= dim;
    }
    uint32_t raw_type = r.read<uint32_t>("tensor type");
    auto traits = kernels::type_traits(raw_type);
    if (!traits) fail("'{}': tensor '{}' has unsupported type id {}", path_, t.name, raw_type);
    t.type = traits->type;
    if (t.dims[0] % traits->block_size != 0) {
      fail("'{}': tensor '{}' row length {} is not a multiple of the {} block size {}", path_,
           t.name, t.dims[0], traits->name, traits->block_size);
    }
    t.n_bytes = t.n_elements / traits->block_size * traits->type_size;
    t.offset = r.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0) {
      fail("'{}': tensor '{}' offset {} is not aligned to {}", path_, t.name, t.offset,
           alignment_);
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      fail("'{}': corrupt GGUF: duplicate tensor name '{}'", path_, t.name);
    }
    tensors_.push_back(std::move(t));
  }
  data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  for (auto& t : tensors_) {
    uint64_t size = bytes_.size();
    if (data_offset_ > size || t.offset > size - data_offset_ ||
        t.n_bytes > size - data_offset_ - t.offset) {
      fail("'{}': truncated GGUF: tensor '{}' ({} bytes at data offset {}) lies beyond the end "
           "of the file ({} bytes); the download may be incomplete",
           path_, t.name, t.n_bytes, t.offset, size);
    }
    t.data = bytes_.data() + data_offset_ + t.offset;
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, std::string_view key, const char* want) {
  fail("'{}': metadata '{}' is not {}", path, key, want);
}
}  // namespace

std::string_view GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("'{}': missing metadata '{}'", path_, key);
  if (auto* s = std::get_if<std::string_view>(v)) return *s;
  wrong_type(path_, key, "a string");
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("'{}': missing metadata '{}'", path_, key);
  uint64_t out = 0;
  if (!to_uint(*v, out)) wrong_type(path_, key, "a non-negative integer");
  return out;
}

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("'{}': missing metadata '{}'", path_, key);
  return std::visit(
      [&](const auto& x) -> int64_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_same_v<T, uint64_t>) {
            if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
              wrong_type(path_, key, "an int64");
            }
          }
          return static_cast<int64_t>(x);
        } else {
          wrong_type(path_, key, "an integer");
        }
      },
      *v);
}

double GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("'{}': missing metadata '{}'", path_, key);
  if (auto* f = std::get_if<float>(v)) return *f;
  if (auto* d = std::get_if<double>(v)) return *d;
  uint64_t u = 0;
  if (to_uint(*v, u)) return static_cast<double>(u);
  wrong_type(path_, key, "a number");
}

bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("'{}': missing metadata '{}'", path_, key);
  if (auto* b = std::get_if<bool>(v)) return *b;
  wrong_type(path_, key, "a bool");
}

const GgufArray& GgufFile::get_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("'{}': missing metadata '{}'", path_, key);
  if (auto* a = std::get_if<std::shared_ptr<const GgufArray>>(v)) return **a;
  wrong_type(path_, key, "an array");
}

std::string_view GgufFile::get_string(std::string_view key, std::string_view fallback) const {
  return has(key) ? get_string(key) : fallback;
}
uint64_t GgufFile::get_uint(std::string_view key, uint64_t fallback) const {
  return has(key) ? get_uint(key) : fallback;
}
double GgufFile::get_float(std::string_view key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}
bool GgufFile::get_bool(std::string_view key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(std::string_view name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) fail("'{}': model has no tensor '{}'", path_, name);
  return *t;
}

std::string gguf_value_to_string(const GgufValue& value, size_t max_items) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          std::string s(x.substr(0, 120));
          for (auto& c : s) if (c == '\n') c = ' ';
          return fmt::format("\"{}{}\"", s, x.size() > 120 ? "..." : "");
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const GgufArray>>) {
          std::string out = fmt::format("[{} x {}: ", x->count, gguf_type_name(x->elem_type));
          size_t n = std::min<uint64_t>(x->count, max_items);
          std::vector<double> numbers;
          if (x->elem_type != GgufType::STRING && x->elem_type != GgufType::ARRAY) {
            numbers = x->template as<double>();
          }
          for (size_t i = 0; i < n; ++i) {
            if (i) out += ", ";
            if (x->elem_type == GgufType::STRING) {
              out += gguf_value_to_string(x->strings[i], max_items);
            } else if (x->elem_type == GgufType::ARRAY) {
              out += gguf_value_to_string(x->arrays[i], max_items);
            } else {
              out += fmt::format("{}", numbers[i]);
            }
          }
          if (x->count > n) out += ", ...";
          return out + "]";
        } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
          return fmt::format("{}", static_cast<int>(x));
        } else {
          return fmt::format("{}", x);
        }
      },
      value);
}

}  // namespace ragd::model
