"""Chat through the ai-gateway component from Python.

    python example.py "Hello"            # OPENAI_API_KEY set: the real API
    MOCK_URL=http://127.0.0.1:PORT python example.py "Hello"   # a mock upstream

Needs the package: pip install ./examples/python. AI_GATEWAY_WASM points at
the component (default: the one host-test builds).
"""

import os
import sys
from pathlib import Path

from ai_gateway import Gateway, GatewayError, openai_provider, prompt

WASM = os.environ.get("AI_GATEWAY_WASM", str(Path(__file__).parents[2] / "target/guest/wasm32-wasip2/release/ai_gateway.wasm"))


def main() -> int:
    text = " ".join(sys.argv[1:]) or "Hello"
    mock = os.environ.get("MOCK_URL")
    key = os.environ.get("OPENAI_API_KEY", "sk-mock")
    base = f"{mock}/v1" if mock else os.environ.get("OPENAI_BASE_URL")
    gw = Gateway.open(WASM, {"providers": [openai_provider(key, base)], "default-provider": "openai"})
    try:
        for event in gw.stream("gpt-4o-mini", prompt(text)):
            if event["tag"] == "text":
                print(event["val"], end="", flush=True)
            elif event["tag"] == "done":
                usage = event["val"]["usage"]
                print(f"\n[{event['val']['provider']} {event['val']['model']}: {usage['input-tokens']} in / {usage['output-tokens']} out]")
            elif event["tag"] == "error":
                print(f"\nerror: {event['val']}", file=sys.stderr)
                return 1
    except GatewayError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
