// ragd tokenize --model FILE [--add-special] [--parse-special]: reads text from stdin (all of
// it, byte for byte: a trailing newline is part of the text) and prints its token ids on one
// line, separated by single spaces. Works with vocab-only GGUF files.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "app/commands.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace ragd::app {
namespace {

struct TokenizeOptions {
  std::string model;
  bool add_special = false;
  bool parse_special = false;
};

int run_tokenize(const TokenizeOptions& o) {
  auto file = model::GgufFile::open(o.model);
  auto tokenizer = model::Tokenizer::from_gguf(*file);
  std::ios::sync_with_stdio(false);
  const std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  const auto ids = tokenizer->encode(text, o.add_special, o.parse_special);
  fmt::print("{}\n", fmt::join(ids, " "));
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* sub = app.add_subcommand("tokenize", "Print the token ids of the text on stdin");
  sub->add_option("--model,-m", opts->model, "GGUF file with a tokenizer (vocab-only is fine)")
      ->required();
  sub->add_flag("--add-special", opts->add_special, "Add BOS/EOS as the model's metadata asks");
  sub->add_flag("--parse-special", opts->parse_special,
                "Turn special-token texts such as <|im_start|> into their ids");
  return Command{sub, [opts] { return run_tokenize(*opts); }};
});

}  // namespace
}  // namespace ragd::app
