// ragd chat: an interactive chat in the terminal, using the model's chat template.
// The generator keeps earlier turns in its KV cache, so each turn only computes the
// new message. On a terminal lines are edited and remembered across sessions
// (line_reader.h). A line starting with '/' is a command, never sent to the model (/help
// lists them); Ctrl-C stops the answer being written and keeps the chat, Ctrl-D quits.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>

#include "app/commands.h"
#include "app/line_reader.h"
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

constexpr const char* kHelp =
    "Commands:\n"
    "  /help            this list\n"
    "  /reset, /clear   forget the conversation (the system prompt stays)\n"
    "  /system [TEXT]   set the system prompt (none without TEXT) and start over\n"
    "  /bye, /exit      quit (so does Ctrl-D)\n"
    "Ctrl-C stops an answer while it is being written.\n";

// Set by SIGINT while an answer is generated; the token callback polls it.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Ctrl-C stops the answer instead of the program while this is alive; outside an answer
// (at the prompt) Ctrl-C keeps its usual meaning.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved_);
  }
  ~InterruptScope() { sigaction(SIGINT, &saved_, nullptr); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction saved_ {};
};

int run_chat(ChatOptions& o) {
  auto path = o.model.resolve();
  auto llm = engine::Llm::load(path, o.model.threads);
  const std::string tmpl(model::chat_template_for(*llm->file));
  engine::Generator gen(*llm->model, *llm->tokenizer, o.model.ctx_size);
  std::string system = o.system;
  std::vector<model::ChatMessage> messages;
  auto start_over = [&] {
    messages.clear();
    if (!system.empty()) messages.push_back({"system", system});
    gen.reset();
  };
  start_over();
  LineReader reader(default_history_file());
  std::fprintf(stderr, "ragd chat with %s. /help lists the commands, Ctrl-D quits.\n", path.c_str());
  while (true) {
    auto line = reader.read(">>> ");
    if (!line) break;
    if (line->empty()) continue;
    if ((*line)[0] == '/') {
      const std::string_view cmd(*line);
      const std::string_view word = cmd.substr(0, cmd.find(' '));
      if (word == "/bye" || word == "/exit" || word == "/quit") break;
      if (word == "/help" || word == "/?") {
        std::fputs(kHelp, stderr);
      } else if (word == "/reset" || word == "/clear") {
        start_over();
        std::fputs("(conversation cleared)\n", stderr);
      } else if (word == "/system") {
        system = cmd.size() > word.size() ? std::string(cmd.substr(word.size() + 1)) : "";
        start_over();
        std::fprintf(stderr, "(system prompt %s; conversation cleared)\n", system.empty() ? "removed" : "set");
      } else {
        std::fprintf(stderr, "unknown command %.*s (/help lists them)\n", static_cast<int>(word.size()),
                     word.data());
      }
      continue;
    }
    messages.push_back({"user", *line});
    auto prompt = model::tokenize_chat(*llm->tokenizer, tmpl, messages, true);
    engine::GenerationOptions g;
    g.max_tokens = o.max_tokens;
    g.sampling = o.sampling.params;
    try {
      InterruptScope interrupt;
      auto result = gen.generate(prompt, g, [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        return !g_interrupted.load();
      });
      std::fputc('\n', stdout);
      std::fflush(stdout);
      if (g_interrupted.load()) std::fputs("(interrupted)\n", stderr);
      // An interrupted answer stays in the conversation as far as it got, as it was shown.
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
  auto* sub = app.add_subcommand("chat", "Chat with a language model in the terminal (/help lists the commands)");
  o->model.add_to(*sub);
  o->sampling.add_to(*sub);
  sub->add_option("--system", o->system, "System prompt");
  sub->add_option("-n,--max-tokens", o->max_tokens, "Most tokens per answer")->capture_default_str();
  return Command{sub, [o] { return run_chat(*o); }};
});

}  // namespace
}  // namespace ragd::app
