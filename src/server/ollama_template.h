// The `template` of Ollama's /api/show: a faithful description of how ragd turns a chat
// into this model's prompt.
//
// ragd does not run Jinja: it recognises the family of a file's `tokenizer.chat_template`
// and renders that family natively (model/chat_template.h). So
//   - a file whose template ragd recognises shows that template's own text, which is what
//     the native rendering reproduces;
//   - a file without one (Gemma 3's base files: ragd applies Gemma's turns, chat_template_for)
//     or with one ragd does not recognise (rendered as ChatML) shows what is applied instead,
//     written as an Ollama (Go text/template) template with .System, .Prompt and .Response:
//     the family's rendering of a system + user + assistant exchange, and of user +
//     assistant alone, produced by the same code that renders real chats, so it cannot
//     drift from it.
#pragma once

#include <string>

namespace ragd::model {
class GgufFile;
}

namespace ragd::server {

std::string ollama_show_template(const model::GgufFile& file);

}  // namespace ragd::server
