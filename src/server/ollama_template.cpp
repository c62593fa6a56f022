#include "server/ollama_template.h"

#include "model/chat_template.h"
#include "model/gguf.h"

namespace ragd::server {

std::string ollama_show_template(const model::GgufFile& file) {
  const std::string own(file.get_string("tokenizer.chat_template", ""));
  const model::ChatTemplate applied(model::chat_template_for(file));
  if (!own.empty() && applied.kind() != model::ChatTemplateKind::Unknown) return own;
  // Placeholders as message contents: the family's own markers (and its system-prompt
  // folding) come out exactly as they are applied to real messages.
  const model::ChatMessage system{"system", "{{ .System }}"};
  const model::ChatMessage user{"user", "{{ .Prompt }}"};
  const model::ChatMessage reply{"assistant", "{{ .Response }}"};
  return "{{ if .System }}" + applied.apply({system, user, reply}, false) + "{{ else }}" +
         applied.apply({user, reply}, false) + "{{ end }}";
}

}  // namespace ragd::server
