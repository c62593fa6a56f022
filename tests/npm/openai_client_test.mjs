// The official `openai` npm client (tests/npm/package.json pins it) against a running
// `ragd serve`: node openai_client_test.mjs BASE_URL CHAT_MODEL TOOL_MODEL
// (tests/e2e/openai_npm_test.py starts the server and runs this). Every check that fails is
// printed; the exit status is the number of failures (0: all passed).
//
//   - models.list / models.retrieve;
//   - a chat completion, and the same streamed with stream_options.include_usage (the text
//     of the chunks equals the completion's; the last chunk carries the usage);
//   - structured output through the SDK's chat.completions.parse helper with a strict
//     json_schema: message.parsed is an object of the schema's shape;
//   - tool calls in a loop on TOOL_MODEL: a call of the named function, its result sent back
//     as a `role: tool` message, then a text answer; and the SDK's runTools helper, which
//     runs the function itself;
//   - a field ragd does not implement is a 400 naming it, surfaced as BadRequestError.
import OpenAI from "openai";

const [baseURL, chatModel, toolModel] = process.argv.slice(2);
if (!baseURL || !chatModel || !toolModel) {
  console.error("usage: node openai_client_test.mjs BASE_URL CHAT_MODEL TOOL_MODEL");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
let failures = 0;
function check(ok, what, detail) {
  if (!ok) {
    failures += 1;
    console.log(`FAIL ${what}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
  } else {
    console.log(`ok   ${what}`);
  }
}

const greedy = { temperature: 0, max_tokens: 24 };
const hello = [{ role: "user", content: "Say hello in five words." }];

async function models() {
  const list = [];
  for await (const m of client.models.list()) list.push(m.id);
  check(list.includes(chatModel) && list.includes(toolModel), "models.list names both models", list);
  const one = await client.models.retrieve(chatModel);
  check(one.id === chatModel && one.object === "model", "models.retrieve", one);
}

async function chatAndStream() {
  const done = await client.chat.completions.create({ model: chatModel, messages: hello, ...greedy });
  const text = done.choices[0].message.content;
  check(typeof text === "string" && text.length > 0, "chat completion has text", done);
  check(done.usage && done.usage.completion_tokens > 0, "chat completion has usage", done.usage);

  const stream = await client.chat.completions.create({
    model: chatModel, messages: hello, stream: true, stream_options: { include_usage: true }, ...greedy,
  });
  let streamed = "";
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    if (chunk.choices.length > 0) streamed += chunk.choices[0].delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  check(chunks > 1, "the stream has several chunks", chunks);
  check(streamed === text, "streamed text equals the completion's (greedy)", { streamed, text });
  check(usage && usage.completion_tokens === done.usage.completion_tokens, "include_usage: the last chunk's usage",
        usage);
}

const CITY = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 24 },
    country: { type: "string", maxLength: 24 },
    population: { type: "integer" },
    coastal: { type: "boolean" },
  },
  required: ["name", "country", "population", "coastal"],
  additionalProperties: false,
};

async function structuredOutput() {
  const r = await client.chat.completions.parse({
    model: chatModel,
    messages: [{ role: "user", content: "Describe the city of Lisbon as JSON." }],
    response_format: { type: "json_schema", json_schema: { name: "city", strict: true, schema: CITY } },
    temperature: 0,
    max_tokens: 120,
  });
  const parsed = r.choices[0].message.parsed;
  check(parsed !== null && typeof parsed === "object", "parse(): message.parsed is an object", r.choices[0].message);
  if (parsed) {
    check(typeof parsed.name === "string" && typeof parsed.country === "string" &&
          Number.isInteger(parsed.population) && typeof parsed.coastal === "boolean" &&
          Object.keys(parsed).sort().join() === "coastal,country,name,population",
          "parse(): the object has the schema's fields and types", parsed);
  }
}

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "The city, e.g. Paris" } },
      required: ["city"],
      additionalProperties: false,
    },
  },
};
const weatherIn = (city) => JSON.stringify({ city, temperature_c: 21, sky: "sunny" });
const question = [{ role: "user", content: "What is the weather in Paris right now?" }];

async function toolLoop() {
  const tools = [WEATHER];
  const first = await client.chat.completions.create({
    model: toolModel, messages: question, tools, tool_choice: { type: "function", function: { name: "get_weather" } },
    temperature: 0, max_tokens: 48,
  });
  const msg = first.choices[0].message;
  const call = msg.tool_calls?.[0];
  check(first.choices[0].finish_reason === "tool_calls" && call?.function?.name === "get_weather",
        "named tool_choice: a get_weather call", first.choices[0]);
  if (!call) return;
  let args = null;
  try { args = JSON.parse(call.function.arguments); } catch { /* checked below */ }
  check(args && typeof args.city === "string" && Object.keys(args).join() === "city",
        "the call's arguments match the declared schema", call.function.arguments);
  const follow = [...question, msg, { role: "tool", tool_call_id: call.id, content: weatherIn(args?.city ?? "") }];
  const answer = await client.chat.completions.create({
    model: toolModel, messages: follow, tools, tool_choice: "none", temperature: 0, max_tokens: 48,
  });
  const text = answer.choices[0].message.content ?? "";
  check(answer.choices[0].finish_reason !== "tool_calls" && /21|sunny/i.test(text),
        "the answer after the tool result uses it", text);

  // The SDK's runner: it calls the function, sends the result back and stops after the named
  // function has run once.
  const calls = [];
  const runner = client.chat.completions.runTools({
    model: toolModel, messages: question, temperature: 0, max_tokens: 48,
    tool_choice: { type: "function", function: { name: "get_weather" } },
    tools: [{
      type: "function",
      function: {
        ...WEATHER.function,
        parse: JSON.parse,
        function: (a) => { calls.push(a); return weatherIn(a.city); },
      },
    }],
  });
  await runner.done();
  const sent = runner.messages.filter((m) => m.role === "tool");
  check(calls.length === 1 && typeof calls[0].city === "string", "runTools ran the function with parsed arguments",
        calls);
  check(sent.length === 1, "runTools sent the tool result back", runner.messages.map((m) => m.role));
}

async function refusals() {
  try {
    await client.chat.completions.create({ model: chatModel, messages: hello, ...greedy, modalities: ["audio"] });
    check(false, "an unimplemented field is refused");
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && e.status === 400 && /modalities/.test(e.message),
          "an unimplemented field is a 400 naming it", { status: e.status, message: e.message });
  }
}

for (const [name, step] of Object.entries({ models, chatAndStream, structuredOutput, toolLoop, refusals })) {
  try {
    await step();
  } catch (e) {
    check(false, `${name} threw`, String(e?.stack ?? e));
  }
}
console.log(failures === 0 ? "all checks passed" : `${failures} check(s) failed`);
process.exit(Math.min(failures, 100));
