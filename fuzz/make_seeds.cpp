// ragd_fuzz_seeds OUT_DIR [SHARED_DATA_DIR]: writes the generated part of the fuzz seed
// corpora to OUT_DIR/<target>/ (the hand-written part is fuzz/corpus/<target>/):
//   gguf         small GGUF files from GgufWriter: every metadata type, nested arrays,
//                F32/F16/Q8_0 tensors, SentencePiece/BPE/WordPiece vocabularies, llama keys
//   safetensors  small checkpoints (F32, F16, BF16, I64 tensors, __metadata__)
//   pdf          small valid PDFs (one and two pages, an Info title)
//   tokenizer    the first test cases of llama.cpp's tokenizer tests (shared data)
//   jsonl        the first records of the BEIR SciFact and SQuAD corpora (shared data)
// Seeds are small on purpose: libFuzzer's speed falls with input size.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "model/gguf_writer.h"

namespace {

namespace fs = std::filesystem;
using namespace ragd::model;

void put(const fs::path& dir, const std::string& name, const void* data, size_t n) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}
void put(const fs::path& dir, const std::string& name, const std::string& s) {
  put(dir, name, s.data(), s.size());
}
void put(const fs::path& dir, const std::string& name, const std::vector<uint8_t>& v) {
  put(dir, name, v.data(), v.size());
}

template <typename T>
std::span<const uint8_t> bytes_of(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

void vocab(GgufWriter& w, const char* model, const std::vector<std::string>& tokens,
           const std::vector<int32_t>& types) {
  w.set_string("tokenizer.ggml.model", model);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  std::vector<float> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
  w.set_array<float>("tokenizer.ggml.scores", scores);
  w.set_array<int32_t>("tokenizer.ggml.token_type", types);
}

void gguf_seeds(const fs::path& dir) {
  {  // every scalar and array type, nested arrays, tensors of three types
    GgufWriter w;
    w.set_u8("t.u8", 200);
    w.set_i8("t.i8", -5);
    w.set_u16("t.u16", 60000);
    w.set_i16("t.i16", -300);
    w.set_u32("t.u32", 4000000000u);
    w.set_i32("t.i32", -7);
    w.set_u64("t.u64", 1ull << 40);
    w.set_i64("t.i64", -(1ll << 40));
    w.set_f32("t.f32", 1.5f);
    w.set_f64("t.f64", -2.25);
    w.set_bool("t.bool", true);
    w.set_string("general.name", "fuzz seed");
    std::vector<int32_t> ints = {1, -2, 3};
    w.set_array<int32_t>("t.ints", ints);
    w.set_array("t.bools", GgufArrayValue::bools({true, false}));
    std::vector<GgufArrayValue> inner = {GgufArrayValue::numbers<int32_t>(ints),
                                         GgufArrayValue::bools({false})};
    w.set_array("t.nested", GgufArrayValue::arrays(inner));
    std::vector<float> f32(8, 0.5f);
    w.add_tensor("a.weight", ragd::kernels::TensorType::F32, {4, 2}, bytes_of(f32));
    std::vector<uint16_t> f16(32, 0x3c00);
    w.add_tensor("b.weight", ragd::kernels::TensorType::F16, {32}, bytes_of(f16));
    std::vector<uint8_t> q8(34, 1);  // one Q8_0 block: fp16 scale + 32 int8
    w.add_tensor("c.weight", ragd::kernels::TensorType::Q8_0, {32}, bytes_of(q8));
    put(dir, "types.gguf", w.to_bytes());
  }
  {  // llama architecture keys (LlamaConfig) and a SentencePiece vocabulary
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.context_length", 64);
    w.set_u32("llama.embedding_length", 8);
    w.set_u32("llama.feed_forward_length", 16);
    w.set_u32("llama.block_count", 1);
    w.set_u32("llama.attention.head_count", 2);
    w.set_u32("llama.attention.head_count_kv", 1);
    w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.set_f32("llama.rope.freq_base", 10000.0f);
    vocab(w, "llama", {"<unk>", "<s>", "</s>", "<0x41>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab"},
          {2, 3, 3, 6, 1, 1, 1, 1, 1});
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    w.set_string("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{% endfor %}");
    put(dir, "llama-spm.gguf", w.to_bytes());
  }
  {  // byte-level BPE with merges and a pre-tokenizer name
    GgufWriter w;
    vocab(w, "gpt2", {"a", "b", "\xC4\xA0", "ab", "\xC4\xA0" "a", "<|endoftext|>"}, {1, 1, 1, 1, 1, 3});
    std::vector<std::string> merges = {"a b", "\xC4\xA0 a"};
    w.set_string_array("tokenizer.ggml.merges", merges);
    w.set_string("tokenizer.ggml.pre", "qwen2");
    w.set_u32("tokenizer.ggml.eos_token_id", 5);
    put(dir, "bpe.gguf", w.to_bytes());
  }
  {  // WordPiece (BERT)
    GgufWriter w;
    w.set_string("general.architecture", "bert");
    vocab(w, "bert", {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81" "hello", "world"},
          {3, 2, 3, 3, 1, 1});
    w.set_u32("tokenizer.ggml.cls_token_id", 2);
    w.set_u32("tokenizer.ggml.seperator_token_id", 3);
    w.set_u32("tokenizer.ggml.unknown_token_id", 1);
    put(dir, "bert.gguf", w.to_bytes());
  }
}

void safetensors_seeds(const fs::path& dir) {
  auto file = [](const std::string& header, size_t data_bytes) {
    std::string s(8, '\0');
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
    s += header;
    for (size_t i = 0; i < data_bytes; ++i) s += static_cast<char>(i * 37);
    return s;
  };
  put(dir, "f32.safetensors",
      file(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 16));
  put(dir, "mixed.safetensors",
      file(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
           R"("b":{"dtype":"BF16","shape":[1,2],"data_offsets":[6,10]},)"
           R"("ids":{"dtype":"I64","shape":[1],"data_offsets":[10,18]},)"
           R"("e":{"dtype":"F32","shape":[0],"data_offsets":[18,18]}})", 18));
}

std::string make_pdf(const std::vector<std::string>& pages, const std::string& title) {
  std::vector<std::string> objects = {"<< /Type /Catalog /Pages 2 0 R >>", "",
                                      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                                      "<< /Title (" + title + ") >>"};
  std::string kids;
  for (size_t i = 0; i < pages.size(); ++i) {
    kids += std::to_string(5 + 2 * i) + " 0 R ";
    const std::string stream = "BT /F1 12 Tf 72 720 Td (" + pages[i] + ") Tj ET";
    objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
                      "<< /F1 3 0 R >> >> /Contents " + std::to_string(6 + 2 * i) + " 0 R >>");
    objects.push_back("<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream +
                      "\nendstream");
  }
  objects[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + " >>";
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  return pdf + "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R /Info 4 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
}

// The first 40 cases of llama.cpp tokenizer test inputs (cases separated by
// "\n__ggml_vocab_test__\n"), each after the byte with which fuzz_tokenizer picks its
// vocabulary and mode: consecutive cases cycle through the 12 combinations of the six
// default vocabularies.
void tokenizer_seeds(const fs::path& shared, const fs::path& dir) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (const char* name : {"ggml-vocab-llama-spm.gguf.inp", "ggml-vocab-gpt-2.gguf.inp",
                           "ggml-vocab-bert-bge.gguf.inp"}) {
    std::ifstream in(shared / "tokenizer" / name, std::ios::binary);
    if (!in) continue;
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0, n = 0;
    while (start < all.size() && n < 40) {
      size_t end = all.find(sep, start);
      std::string c = all.substr(start, end == std::string::npos ? std::string::npos : end - start);
      const char choice = static_cast<char>(n % 12);
      put(dir, std::string(name) + "." + std::to_string(n++), choice + c);
      if (end == std::string::npos) break;
      start = end + sep.size();
    }
  }
}

void jsonl_seeds(const fs::path& shared, const fs::path& dir) {
  for (const char* rel : {"beir/scifact/corpus.jsonl", "qa/squad-dev10/corpus.jsonl"}) {
    std::ifstream in(shared / rel, std::ios::binary);
    std::string line, head;
    for (int i = 0; i < 3 && std::getline(in, line); ++i) head += line.substr(0, 600) + "\n";
    if (!head.empty()) put(dir, fs::path(rel).parent_path().filename().string() + ".jsonl", head);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ragd_fuzz_seeds OUT_DIR [SHARED_DATA_DIR]\n");
    return 2;
  }
  const fs::path out = argv[1];
  gguf_seeds(out / "gguf");
  safetensors_seeds(out / "safetensors");
  put(out / "pdf", "one-page.pdf", make_pdf({"Hello from page one."}, "A Study"));
  put(out / "pdf", "two-pages.pdf", make_pdf({"First (page).", "Second page text."}, ""));
  if (argc > 2 && fs::is_directory(argv[2])) {
    tokenizer_seeds(argv[2], out / "tokenizer");
    jsonl_seeds(argv[2], out / "jsonl");
  }
  return 0;
}
