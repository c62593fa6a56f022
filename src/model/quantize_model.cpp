#include "model/quantize_model.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/error.h"

namespace ragd::model {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

uint64_t tensor_bytes(kernels::TensorType type, const std::vector<uint64_t>& dims) {
  uint64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
  return kernels::row_bytes(type, dims.at(0)) * rows;
}

}  // namespace

void set_file_type(GgufWriter& out, const QuantTarget& target) {
  out.set_u32("general.quantization_version", kQuantizationVersion);
  out.set_u32("general.file_type", target.ftype);
}

QuantPlanner make_planner(const GgufFile& src, const QuantTarget& target, bool pure) {
  int64_t max_layer = -1, n_attn_v = 0;
  for (const auto& t : src.tensors()) {
    max_layer = std::max(max_layer, tensor_layer(t.name));
    if (t.name.find("attn_v.weight") != std::string::npos ||
        t.name.find("attn_qkv.weight") != std::string::npos ||
        t.name.find("attn_kv_b.weight") != std::string::npos) {
      ++n_attn_v;
    }
  }
  const std::string arch(src.architecture());
  const auto n_layer = static_cast<int64_t>(
      src.get_uint(arch + ".block_count", static_cast<uint64_t>(max_layer + 1)));
  const bool has_output = src.find_tensor("output.weight") != nullptr;
  return QuantPlanner(target, pure, n_layer, has_output, n_attn_v);
}

QuantizeReport plan_quantized_copy(const GgufFile& src, const QuantPlanner& planner,
                                   size_t threads, GgufWriter& out, ProgressTracker* tracker) {
  if (src.get_uint("split.count", 1) > 1) {
    fail("'{}' is one part of a split model; merge the parts first (llama-gguf-split --merge)",
         src.path());
  }
  // Split bookkeeping does not apply to the single file we write.
  out.copy_metadata(src, [](std::string_view key) { return !starts_with(key, "split."); });
  set_file_type(out, planner.target());

  QuantizeReport report;
  report.n_tensors = src.tensors().size();
  uint64_t total_out = 0;
  for (size_t i = 0; i < src.tensors().size(); ++i) {
    const GgufTensor& t = src.tensors()[i];
    TensorChoice choice = planner.choose(t.name, t.dims, t.type);
    if (!choice.note.empty()) report.notes.push_back(choice.note);
    GgufWriter::Producer produce;
    if (choice.convert) {
      produce = convert_producer(choice.type, t.dims[0], t.rows(), dequantize_source(t), threads);
      ++report.n_converted;
      if (is_block_quantized(t.type)) ++report.n_requantized;
    } else {
      produce = copy_producer(std::span<const uint8_t>(t.data, t.n_bytes));
    }
    if (tracker) produce = tracker->track(i, t.name, std::move(produce));
    out.add_tensor(t.name, choice.type, t.dims, std::move(produce));
    report.bytes_in += t.n_bytes;
    const uint64_t n_out = tensor_bytes(choice.type, t.dims);
    report.bytes_out += n_out;
    total_out += n_out;
    ++report.output_types[std::string(kernels::type_name(choice.type))];
  }
  if (tracker) tracker->set_total(total_out);
  if (report.n_requantized > 0) {
    report.notes.push_back(fmt::format(
        "{} tensors were re-quantized from an already quantized type; quality is lower than "
        "quantizing from F32/F16/BF16",
        report.n_requantized));
  }
  return report;
}

QuantizeReport quantize_model(const std::string& in_path, const std::string& out_path,
                              const QuantizeOptions& options) {
  auto src = GgufFile::open(in_path);
  QuantPlanner planner = make_planner(*src, options.target, options.pure);
  GgufWriter out;
  ProgressTracker tracker(options.progress, src->tensors().size());
  QuantizeReport report = plan_quantized_copy(*src, planner, options.threads, out, &tracker);
  out.write(out_path);
  report.seconds = tracker.seconds();
  return report;
}

}  // namespace ragd::model
