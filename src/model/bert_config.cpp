#include "model/bert_config.h"

#include <algorithm>

#include "util/error.h"

namespace ragd::model {

std::string_view bert_pooling_name(BertPooling p) {
  return p == BertPooling::Cls ? "cls" : "mean";
}

BertConfig BertConfig::from_gguf(const GgufFile& f) {
  if (f.architecture() != "bert") {
    fail("'{}' is a '{}' model, not a BERT encoder (general.architecture \"bert\")", f.path(),
         f.architecture());
  }
  BertConfig c;
  c.name = std::string(f.get_string("general.name", ""));
  c.n_embd = f.get_uint("bert.embedding_length");
  c.n_layer = f.get_uint("bert.block_count");
  c.n_head = f.get_uint("bert.attention.head_count");
  c.n_ff = f.get_uint("bert.feed_forward_length");
  c.n_ctx = f.get_uint("bert.context_length");
  c.eps = static_cast<float>(f.get_float("bert.attention.layer_norm_epsilon", 1e-12));
  if (f.get_bool("bert.attention.causal", false)) {
    fail("'{}': causal BERT attention is not supported", f.path());
  }
  const uint64_t pooling = f.get_uint("bert.pooling_type", 1);
  if (pooling != 1 && pooling != 2) {
    fail("'{}': bert.pooling_type {} is not supported (1 = mean, 2 = cls)", f.path(), pooling);
  }
  c.pooling = static_cast<BertPooling>(pooling);
  if (c.n_embd == 0 || c.n_layer == 0 || c.n_head == 0 || c.n_ff == 0 || c.n_ctx == 0 ||
      c.n_embd % c.n_head != 0) {
    fail("'{}': inconsistent BERT sizes (embedding {}, heads {}, layers {}, ff {}, context {})",
         f.path(), c.n_embd, c.n_head, c.n_layer, c.n_ff, c.n_ctx);
  }
  c.head_dim = c.n_embd / c.n_head;
  const GgufTensor& embd = f.tensor("token_embd.weight");
  const GgufTensor& types = f.tensor("token_types.weight");
  const GgufTensor& pos = f.tensor("position_embd.weight");
  if (embd.dims.size() != 2 || types.dims.size() != 2 || pos.dims.size() != 2) {
    fail("'{}': embedding tensors must be 2-D", f.path());
  }
  c.n_vocab = embd.dims[1];
  c.n_token_types = types.dims[1];
  // Positions beyond the table cannot be embedded, whatever context_length says.
  c.n_ctx = std::min<size_t>(c.n_ctx, pos.dims[1]);
  return c;
}

}  // namespace ragd::model
