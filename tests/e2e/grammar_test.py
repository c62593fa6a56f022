"""llama-server's `grammar` field (GBNF) through the official `openai` client against
`ragd serve` with the real SmolLM2-135M model: yes/no, a bounded number list, a small JSON
object and a Greek-letter word (code points split across byte tokens), on chat and
completions, streamed and not, greedy and sampled with seeds. Every reply must match its
grammar whole (checked with Python's re, the JSON one also with json.loads) and end with
finish_reason "stop". Also the 400s: a malformed grammar (naming `grammar`, the line and
column), an undefined rule, left recursion, and a grammar together with a JSON
response_format."""
import json
import re
import sys

from serve_harness import LLM, SKIP, Server, args, check

try:
    import openai
except ImportError:
    print("skip: the openai package is not installed (scripts/setup packages)")
    sys.exit(SKIP)

# (name, GBNF, the same language as a Python regular expression, prompt)
CASES = [
    ("yes_no", 'root ::= ("yes" | "no")\n', r"yes|no", "Is the sea salty? Answer yes or no."),
    ("numbers", 'root ::= "[" [0-9]{1,3} (", " [0-9]{1,3}){0,9} "]"\n', r"\[[0-9]{1,3}(, [0-9]{1,3}){0,9}\]",
     "List a few prime numbers."),
    ("json_object",
     '# a person as a small JSON object\n'
     'root   ::= "{" ws "\\"name\\":" ws string "," ws "\\"age\\":" ws number ws "}"\n'
     'string ::= "\\"" [a-zA-Z ]{1,20} "\\""\n'
     'number ::= [1-9] [0-9]{0,2}\n'
     'ws     ::= " "?\n',
     r'\{ ?"name": ?"[a-zA-Z ]{1,20}", ?"age": ?[1-9][0-9]{0,2} ?\}', "Describe a person as JSON with name and age."),
    ("greek", "root ::= [α-ω]{3,6}\n", r"[α-ω]{3,6}", "Write a Greek word."),
]
SAMPLING = [dict(temperature=0), dict(temperature=0.9, seed=3), dict(temperature=0.9, seed=4)]


def check_text(name, pattern, text, finish):
    check(re.fullmatch(pattern, text) is not None, f"{name}: {text!r} does not match {pattern}")
    check(finish == "stop", f"{name}: finish_reason {finish} for {text!r}")
    if name == "json_object":
        value = json.loads(text)
        check(set(value) == {"name", "age"}, value)


def check_outputs(client):
    seen = 0
    for name, grammar, pattern, prompt in CASES:
        for sampling in SAMPLING:
            r = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": prompt}],
                                               max_tokens=120, extra_body={"grammar": grammar}, **sampling)
            check_text(name, pattern, r.choices[0].message.content, r.choices[0].finish_reason)
            seen += 1
        r = client.completions.create(model=LLM, prompt=prompt + "\n", max_tokens=120, temperature=0,
                                      extra_body={"grammar": grammar})
        check_text(name, pattern, r.choices[0].text, r.choices[0].finish_reason)
        parts, finish = [], None
        for chunk in client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": prompt}],
                                                    max_tokens=120, temperature=0.9, seed=5, stream=True,
                                                    extra_body={"grammar": grammar}):
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
        check_text(name, pattern, "".join(parts), finish)
        seen += 2
    return seen


def check_refusals(client):
    hello = [{"role": "user", "content": "hi"}]
    for grammar, needle in [('root ::= "yes', "'grammar': line 1, column 10: unterminated string literal"),
                            ("root ::= answer\n", "undefined rule 'answer'"),
                            ('root ::= root "a" | "a"\n', "rule 'root' is left-recursive"),
                            ('root ::= "a"{99999}\n', "repetition counts above"),
                            (42, "'grammar' must be a string")]:
        try:
            client.chat.completions.create(model=LLM, messages=hello, max_tokens=2, extra_body={"grammar": grammar})
            check(False, f"grammar {grammar!r} was accepted")
        except openai.BadRequestError as e:
            check(e.status_code == 400 and e.body["param"] == "grammar" and needle in e.body["message"], e.body)
    try:
        client.completions.create(model=LLM, prompt="x", max_tokens=2, extra_body={
            "grammar": 'root ::= "x"', "response_format": {"type": "json_object"}})
        check(False, "grammar with a JSON response_format was accepted")
    except openai.BadRequestError as e:
        check(e.body["param"] == "grammar" and "one output constraint at a time" in e.body["message"], e.body)


def main():
    ragd, _, models = args(embedder=False)
    with Server(ragd, models, embedder=False) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused")
        n = check_outputs(client)
        check_refusals(client)
    print(f"ok ({n} constrained replies matched their grammars)")


if __name__ == "__main__":
    main()
