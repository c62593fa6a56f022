// /api/show's `template`: the file's own template when ragd recognises it (and so renders
// exactly that family), otherwise what ragd applies (Gemma's turns for a template-less
// Gemma file, ChatML for an unknown template) as an Ollama template with .System, .Prompt
// and .Response.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "server/ollama_template.h"

namespace ragd::server {
namespace {

namespace fs = std::filesystem;

class OllamaTemplate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ragd-ollama-template-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A metadata-only GGUF file of `arch`, with `chat_template` when it is not empty.
  std::unique_ptr<model::GgufFile> file(const std::string& arch, const std::string& chat_template) {
    model::GgufWriter w;
    w.set_string("general.architecture", arch);
    if (!chat_template.empty()) w.set_string("tokenizer.chat_template", chat_template);
    const auto path = (dir_ / (arch + std::to_string(n_++) + ".gguf")).string();
    w.write(path);
    return model::GgufFile::open(path);
  }

  fs::path dir_;
  int n_ = 0;
};

TEST_F(OllamaTemplate, RecognisedTemplateIsShownAsIs) {
  const std::string chatml =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}";
  EXPECT_EQ(ollama_show_template(*file("llama", chatml)), chatml);
}

TEST_F(OllamaTemplate, TemplateLessGemmaShowsGemmasTurns) {
  const std::string shown = ollama_show_template(*file("gemma3", ""));
  const model::ChatTemplate gemma("gemma");
  const model::ChatMessage system{"system", "{{ .System }}"}, user{"user", "{{ .Prompt }}"},
      reply{"assistant", "{{ .Response }}"};
  EXPECT_EQ(shown, "{{ if .System }}" + gemma.apply({system, user, reply}, false) + "{{ else }}" +
                       gemma.apply({user, reply}, false) + "{{ end }}");
  // What that is, spelled out: no system role (folded into the user turn), "model" replies.
  EXPECT_NE(shown.find("<start_of_turn>user\n{{ .System }}\n\n{{ .Prompt }}<end_of_turn>\n"), std::string::npos)
      << shown;
  EXPECT_NE(shown.find("<start_of_turn>model\n{{ .Response }}<end_of_turn>\n"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("im_start"), std::string::npos) << shown;
}

TEST_F(OllamaTemplate, UnknownTemplateShowsTheChatMLApplied) {
  const std::string shown = ollama_show_template(*file("llama", "{{ bos_token }}{{ messages | weird }}"));
  EXPECT_NE(shown.find("<|im_start|>user\n{{ .Prompt }}<|im_end|>"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("weird"), std::string::npos) << shown;
}

}  // namespace
}  // namespace ragd::server
