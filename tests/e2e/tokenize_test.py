"""POST /tokenize and /detokenize (llama-server's shape) for the language model and the
embedder, their errors, and `stop_token_ids` ending a completion at a given token."""
from serve_harness import EMBEDDER, LLM, Server, args, check


def post(srv, path, body, status=200):
    got, res, _ = srv.request("POST", path, body)
    check(got == status, (path, body, got, res))
    return res


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        text = "Hello world, tokenizers!"
        ids = post(srv, "/tokenize", {"content": text})["tokens"]
        check(ids and all(isinstance(i, int) for i in ids), ids)
        check(post(srv, "/detokenize", {"tokens": ids})["content"] == text, "round trip")
        # The default model is the LLM: naming it gives the same ids.
        check(post(srv, "/tokenize", {"content": text, "model": LLM})["tokens"] == ids, "model by name")
        pieces = post(srv, "/tokenize", {"content": text, "with_pieces": True})["tokens"]
        check([p["id"] for p in pieces] == ids, pieces)
        check("".join(p["piece"] for p in pieces) == text, pieces)
        # Special-token text becomes its id unless parse_special is false.
        special = post(srv, "/tokenize", {"content": "<|im_end|>"})["tokens"]
        plain = post(srv, "/tokenize", {"content": "<|im_end|>", "parse_special": False})["tokens"]
        check(len(special) == 1 and len(plain) > 1, (special, plain))
        check(post(srv, "/detokenize", {"tokens": special})["content"] == "<|im_end|>", "special rendered")

        # The embedder's WordPiece vocabulary: add_special wraps the text in [CLS] … [SEP].
        bert = post(srv, "/tokenize", {"content": "hello world", "model": EMBEDDER, "add_special": True})["tokens"]
        check(len(bert) == 4 and bert[0] == 101 and bert[-1] == 102, bert)

        err = post(srv, "/detokenize", {"tokens": [ids[0], 10 ** 7]}, 400)["error"]
        check(err["param"] == "tokens" and "10000000" in err["message"], err)
        err = post(srv, "/detokenize", {"tokens": [-1]}, 400)["error"]
        check(err["param"] == "tokens", err)
        err = post(srv, "/tokenize", {"content": "x", "model": "no-such-model"}, 404)["error"]
        check(err["code"] == "model_not_found", err)
        err = post(srv, "/tokenize", {"text": "x"}, 400)["error"]
        check(err["param"] == "text" and "unknown field" in err["message"], err)
        err = post(srv, "/tokenize", {}, 400)["error"]
        check(err["param"] == "content", err)

        # stop_token_ids: a greedy completion stopped at one of its own tokens is a prefix of it.
        ask = {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}
        full = post(srv, "/v1/completions", ask)["choices"][0]["text"]
        generated = post(srv, "/tokenize", {"content": full})["tokens"]
        check(len(generated) >= 4, (full, generated))
        stopped = post(srv, "/v1/completions", {**ask, "stop_token_ids": [generated[2]]})["choices"][0]
        check(stopped["finish_reason"] == "stop", stopped)
        check(full.startswith(stopped["text"]) and len(stopped["text"]) < len(full), (full, stopped))
        err = post(srv, "/v1/completions", {**ask, "stop_token_ids": [10 ** 7]}, 400)["error"]
        check(err["param"] == "stop_token_ids", err)
    print("ok")


if __name__ == "__main__":
    main()
