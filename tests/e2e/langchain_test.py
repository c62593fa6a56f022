"""LangChain's OpenAI chat model (langchain-openai from PyPI) against `ragd serve` with the real
SmolLM2-135M model, the way a LangChain application uses it: invoke with a system and a user
message, streaming (the chunks add up to the greedy reply, usage arrives in the last one),
batch, structured output through with_structured_output (json_schema, a pydantic model),
logprobs, and a refused field surfacing as openai's BadRequestError naming it."""
import sys
from typing import Literal

from serve_harness import LLM, SKIP, Server, args, check

try:
    import openai
    import pydantic
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI
except ImportError as e:
    print(f"skip: {e.name} is not installed (pip install -r tests/requirements.txt)")
    sys.exit(SKIP)


class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=30)
    country: str = pydantic.Field(max_length=30)
    size: Literal["small", "medium", "large"]


def chat_model(srv, **kw):
    return ChatOpenAI(base_url=srv.url + "/v1", api_key="unused", model=LLM, temperature=0, max_retries=0,
                      max_tokens=kw.pop("max_tokens", 40), **kw)


def check_invoke_and_stream(srv):
    llm = chat_model(srv)
    messages = [SystemMessage("You are a helpful assistant."), HumanMessage("Name three colours.")]
    reply = llm.invoke(messages)
    check(isinstance(reply.content, str) and reply.content.strip(), reply)
    check(reply.response_metadata.get("model_name") == LLM, reply.response_metadata)
    check(reply.response_metadata.get("finish_reason") in ("stop", "length"), reply.response_metadata)
    usage = reply.usage_metadata
    check(usage and usage["input_tokens"] > 0 and usage["output_tokens"] > 0 and
          usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"], usage)

    # Greedy: the streamed chunks add up to the same text; usage comes with the stream
    # (stream_options.include_usage, which LangChain asks for with stream_usage).
    total = None
    for chunk in llm.stream(messages, stream_usage=True):
        total = chunk if total is None else total + chunk
    check(total is not None and total.content == reply.content, (total, reply.content))
    check(total.usage_metadata and total.usage_metadata["output_tokens"] == usage["output_tokens"],
          (total.usage_metadata, usage))

    replies = llm.batch([[HumanMessage("Say hello.")], [HumanMessage("Say goodbye.")]])
    check(len(replies) == 2 and all(r.content.strip() for r in replies), replies)


def check_structured_output(srv):
    llm = chat_model(srv, max_tokens=80).with_structured_output(City, method="json_schema", strict=True)
    for question in ["Describe Paris.", "Tell me about a small town in Peru."]:
        city = llm.invoke(question)
        check(isinstance(city, City), city)


def check_logprobs(srv):
    reply = chat_model(srv, max_tokens=8, logprobs=True, top_logprobs=2).invoke("Count to three.")
    content = reply.response_metadata["logprobs"]["content"]
    check(content and all(t["logprob"] <= 0 and len(t["top_logprobs"]) == 2 for t in content), content)
    check("".join(t["token"] for t in content) == reply.content, (content, reply.content))


def check_refusal(srv):
    try:
        chat_model(srv, model_kwargs={"prediction": {"type": "content", "content": "x"}}).invoke("hi")
        check(False, "a refused field was accepted")
    except openai.BadRequestError as e:
        check("prediction" in str(e), e)


def main():
    ragd, _, models = args()
    with Server(ragd, models, embedder=False) as srv:
        check_invoke_and_stream(srv)
        check_structured_output(srv)
        check_logprobs(srv)
        check_refusal(srv)
    print("ok")


if __name__ == "__main__":
    main()
