#include "engine/model_store.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <unordered_map>

#include "kernels/tensor_type.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// llama.cpp's LLAMA_FTYPE_* names (general.file_type): a mixed file such as Q4_K_M keeps
// some matrices in other types, so its own label says more than any one tensor type.
std::string file_type_name(const model::GgufFile& file) {
  static const std::unordered_map<uint64_t, const char*> kNames = {
      {0, "f32"},     {1, "f16"},     {2, "q4_0"},    {3, "q4_1"},    {7, "q8_0"},    {8, "q5_0"},
      {9, "q5_1"},    {10, "q2_k"},   {11, "q3_k_s"}, {12, "q3_k_m"}, {13, "q3_k_l"}, {14, "q4_k_s"},
      {15, "q4_k_m"}, {16, "q5_k_s"}, {17, "q5_k_m"}, {18, "q6_k"},   {32, "bf16"}};
  if (!file.has("general.file_type")) return "";
  auto it = kNames.find(file.get_uint("general.file_type", ~uint64_t{0}));
  return it == kNames.end() ? "" : it->second;
}

}  // namespace

std::string main_weight_type(const model::GgufFile& file) {
  std::unordered_map<uint32_t, uint64_t> elements;
  for (const auto& t : file.tensors()) {
    if (t.dims.size() >= 2) elements[static_cast<uint32_t>(t.type)] += t.n_elements;
  }
  if (elements.empty()) return "";
  auto best = std::max_element(elements.begin(), elements.end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first > b.first);
  });
  return std::string(kernels::type_name(static_cast<kernels::TensorType>(best->first)));
}

std::string quantization_name(const model::GgufFile& file) {
  std::string name = file_type_name(file);
  return name.empty() ? main_weight_type(file) : name;
}

InstalledModel describe_model_file(const std::string& path) {
  InstalledModel m;
  m.path = path;
  m.name = fs::path(path).stem().string();
  std::error_code ec;
  m.bytes = fs::file_size(path, ec);
  if (ec) {
    m.error = ec.message();
    return m;
  }
  try {
    auto file = model::GgufFile::open(path);
    m.architecture = std::string(file->architecture());
    m.quantization = quantization_name(*file);
  } catch (const std::exception& e) {
    m.error = e.what();
  }
  return m;
}

std::vector<InstalledModel> list_installed_models(const std::string& dir) {
  std::vector<InstalledModel> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() != ".gguf" || !it->is_regular_file(ec)) continue;
    out.push_back(describe_model_file(p.string()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::optional<std::string> find_installed_model(const std::string& dir, std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  std::string stem(name);
  if (stem.size() > 5 && stem.ends_with(".gguf")) stem.resize(stem.size() - 5);
  const fs::path exact = fs::path(dir) / (stem + ".gguf");
  std::error_code ec;
  if (fs::is_regular_file(exact, ec)) return exact.string();
  std::optional<std::string> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() != ".gguf" || !iequal(p.stem().string(), stem)) continue;
    if (found) return std::nullopt;  // ambiguous: two files differ only in case
    found = p.string();
  }
  return found;
}

}  // namespace ragd::engine
