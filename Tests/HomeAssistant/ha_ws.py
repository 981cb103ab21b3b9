"""One command over Home Assistant's WebSocket API, for the tests (run with the test venv's python).

    ha_ws.py URL TOKEN '{"type": "config/entity_registry/list"}'

prints the command's `result` as JSON, or exits 1 with HA's error. The registries (which entity has
which unique_id, which device is whose via_device) are only on the WebSocket API, not on REST.
"""
import asyncio
import json
import sys

import aiohttp


async def command(url: str, token: str, message: dict) -> object:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.rstrip("/") + "/api/websocket", timeout=10) as ws:
            hello = await ws.receive_json(timeout=10)
            if hello.get("type") != "auth_required":
                raise RuntimeError(f"unexpected greeting: {hello}")
            await ws.send_json({"type": "auth", "access_token": token})
            auth = await ws.receive_json(timeout=10)
            if auth.get("type") != "auth_ok":
                raise RuntimeError(f"authentication failed: {auth}")
            await ws.send_json({"id": 1, **message})
            while True:
                answer = await ws.receive_json(timeout=30)
                if answer.get("id") == 1 and answer.get("type") == "result":
                    if not answer.get("success"):
                        raise RuntimeError(f"{message.get('type')} failed: {answer.get('error')}")
                    return answer.get("result")


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        result = asyncio.run(command(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
    except Exception as error:  # the caller shows this text in its failure message
        print(f"ha_ws.py: {error}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
