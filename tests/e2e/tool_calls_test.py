"""Tool calling through the official `openai` client (issue 15): a weather tool loop on
Qwen2.5-Coder-1.5B (its chat template has the <tool_call> format). tool_choice "required" and
a named function give a call whose arguments validate against the declared schema; the call
and a `role: tool` result go back and the model answers in text; `auto` parses the model's own
<tool_call> markup; a streamed call reassembles into the same call. A model whose template has
no tool format (SmolLM2) refuses tools with a 400 naming it. Greedy and short throughout."""
import json
import os
import sys

from serve_harness import LLM, SKIP, Server, args, check

try:
    import jsonschema
    import openai
except ImportError:
    print("skip: the openai / jsonschema packages are not installed (scripts/setup packages)")
    sys.exit(SKIP)

QWEN = "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The current time in a city.",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                        "required": ["city"]}}}
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}
QUESTION = [{"role": "user", "content": "What is the weather like in Paris right now, in celsius?"}]


def valid_call(call, names):
    """Checks one tool call's shape and that its arguments validate against the schema."""
    check(call.type == "function" and call.id.startswith("call_"), call)
    check(call.function.name in names, call)
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, SCHEMAS[call.function.name])
    return call.function.name, arguments


def streamed_calls(stream):
    """Reassembles streamed tool_calls deltas by index: (calls, content, finish reasons)."""
    calls, content, finals = {}, "", []
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        content += choice.delta.content or ""
        for d in choice.delta.tool_calls or []:
            c = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
            if d.id:
                check(c["id"] is None and c["arguments"] == "", f"call {d.index}: id after arguments")
                c["id"] = d.id
            if d.function and d.function.name:
                c["name"] = d.function.name
            if d.function and d.function.arguments:
                c["arguments"] += d.function.arguments
        if choice.finish_reason:
            finals.append(choice.finish_reason)
    return [calls[i] for i in sorted(calls)], content, finals


def main():
    ragd, _, models = args()
    qwen = os.path.join(models, QWEN + ".gguf")
    if not os.path.exists(qwen):
        print(f"skip: {QWEN}.gguf not in {models} (run 'make models')")
        return SKIP
    with Server(ragd, models, "--model", qwen, embedder=False) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
        greedy = dict(model=QWEN, temperature=0, max_tokens=48)

        # A template without a tool format: refused by name, not improvised.
        try:
            client.chat.completions.create(model=LLM, messages=QUESTION, tools=[WEATHER], max_tokens=4)
            check(False, "tools accepted by a model without a tool format")
        except openai.BadRequestError as e:
            check(e.body["param"] == "tools" and LLM in e.body["message"], e.body)

        # required: always a valid call of a declared function.
        r = client.chat.completions.create(messages=QUESTION, tools=[WEATHER, TIME], tool_choice="required", **greedy)
        choice = r.choices[0]
        check(choice.finish_reason == "tool_calls" and choice.message.content is None, choice)
        check(len(choice.message.tool_calls) == 1, choice.message)
        name, arguments = valid_call(choice.message.tool_calls[0], {"get_weather", "get_time"})
        check(name == "get_weather" and "paris" in arguments["city"].lower(), (name, arguments))
        required_call = choice.message.tool_calls[0]

        # A named function: that one, even where another would fit the question better.
        r = client.chat.completions.create(messages=QUESTION, tools=[WEATHER, TIME],
                                           tool_choice={"type": "function", "function": {"name": "get_time"}}, **greedy)
        check(r.choices[0].finish_reason == "tool_calls", r.choices[0])
        name, _ = valid_call(r.choices[0].message.tool_calls[0], {"get_time"})
        check(name == "get_time", r.choices[0].message)

        # auto: the model's own <tool_call> markup becomes a call.
        r = client.chat.completions.create(messages=QUESTION, tools=[WEATHER, TIME], **greedy)
        auto = r.choices[0]
        check(auto.finish_reason == "tool_calls" and auto.message.tool_calls, auto)
        for call in auto.message.tool_calls:
            valid_call(call, {"get_weather", "get_time"})

        # The loop: the call and its result go back; the model answers in text.
        result = {"city": "Paris", "temperature": 18, "unit": "celsius", "condition": "sunny"}
        follow = QUESTION + [{
            "role": "assistant", "content": None,
            "tool_calls": [{"id": required_call.id, "type": "function",
                            "function": {"name": required_call.function.name,
                                         "arguments": required_call.function.arguments}}]},
            {"role": "tool", "tool_call_id": required_call.id, "content": json.dumps(result)}]
        # tool_choice "none": answer from the result (the 1.5B model would otherwise call again).
        r = client.chat.completions.create(messages=follow, tools=[WEATHER, TIME], tool_choice="none", **greedy)
        answer = r.choices[0]
        check(answer.finish_reason in ("stop", "length") and not answer.message.tool_calls, answer)
        check(isinstance(answer.message.content, str) and "18" in answer.message.content, answer.message.content)

        # Streamed: the name first, then the arguments; reassembled, the same call.
        for choice_arg, expected in (("required", required_call), ("auto", auto.message.tool_calls[0])):
            calls, content, finals = streamed_calls(client.chat.completions.create(
                messages=QUESTION, tools=[WEATHER, TIME], tool_choice=choice_arg, stream=True, **greedy))
            check(finals == ["tool_calls"] and content == "", (choice_arg, finals, content))
            check(len(calls) >= 1 and calls[0]["id"].startswith("call_"), calls)
            check(calls[0]["name"] == expected.function.name, (calls, expected))
            check(json.loads(calls[0]["arguments"]) == json.loads(expected.function.arguments), (calls, expected))
            jsonschema.validate(json.loads(calls[0]["arguments"]), SCHEMAS[calls[0]["name"]])

        # Bad shapes: 400 naming the field.
        for kwargs, param in ((dict(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}),
                               "tool_choice"),
                              (dict(tools=[{"type": "function", "function": {"description": "no name"}}]), "tools")):
            try:
                client.chat.completions.create(messages=QUESTION, **kwargs, **greedy)
                check(False, f"accepted: {kwargs}")
            except openai.BadRequestError as e:
                check(e.body["param"] == param, e.body)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
