// ragd chat: an interactive chat in the terminal, using the model's chat template.
// The generator keeps earlier turns in its KV cache, so each turn only computes the
// new message. Commands: /reset clears the conversation, /exit (or end of input) quits.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "app/model_options.h"
#include "engine/generator.h"
#include "engine/llm.h"
#include "model/chat_template.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct ChatOptions {
  ModelOptions model;
  SamplingOptions sampling;
  std::string system;
  size_t max_tokens = 512;
};

int run_chat(ChatOptions& o) {
  auto path = o.model.resolve();
  auto llm = engine::Llm::load(path, o.model.threads);
  const std::string tmpl(model::chat_template_for(*llm->file));
  engine::Generator gen(*llm->model, *llm->tokenizer, o.model.ctx_size);
  std::vector<model::ChatMessage> messages;
  if (!o.system.empty()) messages.push_back({"system", o.system});
  const bool tty = isatty(fileno(stdin));
  std::fprintf(stderr, "ragd chat with %s — type /exit to quit, /reset to start over.\n",
               path.c_str());
  std::string line;
  while (true) {
    if (tty) std::fputs("\n> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages.resize(o.system.empty() ? 0 : 1);
      gen.reset();
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({"user", line});
    auto prompt = model::tokenize_chat(*llm->tokenizer, tmpl, messages, true);
    engine::GenerationOptions g;
    g.max_tokens = o.max_tokens;
    g.sampling = o.sampling.params;
    try {
      auto result = gen.generate(prompt, g, [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::fputc('\n', stdout);
      messages.push_back({"assistant", result.text});
    } catch (const Error& e) {
      // A full context is recoverable: say so and let the user reset.
      std::fprintf(stderr, "error: %s (type /reset to start over)\n", e.what());
      messages.pop_back();
    }
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  auto* sub = app.add_subcommand("chat", "Chat with a language model in the terminal");
  o->model.add_to(*sub);
  o->sampling.add_to(*sub);
  sub->add_option("--system", o->system, "System prompt");
  sub->add_option("-n,--max-tokens", o->max_tokens, "Most tokens per answer")->capture_default_str();
  return Command{sub, [o] { return run_chat(*o); }};
});

}  // namespace
}  // namespace ragd::app
