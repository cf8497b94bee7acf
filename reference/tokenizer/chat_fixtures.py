"""Renders the Phi-4-mini-flash release's chat template over a set of
conversations with Jinja2 configured as transformers' apply_chat_template
configures it (an immutable sandboxed environment, trim_blocks and
lstrip_blocks), and writes the cases and their expected text as JSON.
Not run by `go test`; run once with Debian's python3-jinja2:

    /usr/bin/python3 reference/tokenizer/chat_fixtures.py testdata/phi4flash-release/tokenizer_config.json testdata/chat/phi4flash.json
"""
import json
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

tools = json.dumps([{"name": "get_weather", "description": "Current weather in a city",
                     "parameters": {"city": {"type": "str", "description": "The city"}}}])
conversations = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}],
    [{"role": "user", "content": "Write a haiku about Go."},
     {"role": "assistant", "content": "Goroutines hum\nchannels carry quiet words\nthe scheduler smiles"},
     {"role": "user", "content": "Now one about Rust, with ünïcödé and 中文 and emoji 🦀."}],
    [{"role": "system", "content": "You can call tools.", "tools": tools},
     {"role": "user", "content": "What's the weather in Paris?"}],
    [{"role": "system", "content": "You can call tools.", "tools": tools},
     {"role": "user", "content": "Weather in Oslo?"},
     {"role": "assistant", "content": "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]<|/tool_call|>"},
     {"role": "tool", "content": "<|tool_response|>{\"temp_c\": -3}"},
     {"role": "assistant", "content": "It is -3 °C in Oslo."}],
    [{"role": "system", "content": "No tools here.", "tools": None}, {"role": "user", "content": "  spaces  \n\n and newlines\t"}],
    [{"role": "user", "content": ""}],
]

def main():
    cfg = json.load(open(sys.argv[1]))
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    tmpl = env.from_string(cfg["chat_template"])
    cases = []
    for conv in conversations:
        for gen in (True, False):
            text = tmpl.render(messages=conv, add_generation_prompt=gen, bos_token=cfg["bos_token"], eos_token=cfg["eos_token"])
            cases.append({"messages": conv, "add_generation_prompt": gen, "want": text})
    with open(sys.argv[2], "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("%d cases" % len(cases), file=sys.stderr)

main()
