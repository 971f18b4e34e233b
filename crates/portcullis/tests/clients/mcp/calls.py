#!/usr/bin/env python3
"""Drives the Portcullis MCP server with the official MCP Python SDK.

Connects over stdio (starting `portcullis --config FILE mcp` with the token
in PORTCULLIS_TOKEN) or over streamable HTTP (bearer token), lists the tools,
makes the tool calls given as JSON ({"tool", "args"}, or {"wait_for_file":
PATH} to pause until the test creates PATH), and prints one JSON document:
{"tools": [names], "results": [{"is_error", "structured", "text"}]}.
A failure to connect or initialize prints {"error": "..."} and exits 3.
The assertions live in the Rust tests (crates/portcullis/tests/mcp.rs).
"""

import argparse
import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import Implementation

CLIENT = Implementation(name="portcullis-mcp-test", version="1.0.0")


async def run(args):
    calls = json.loads(args.calls)
    async with AsyncExitStack() as stack:
        if args.transport == "stdio":
            env = dict(os.environ)
            env["PORTCULLIS_TOKEN"] = args.token
            params = StdioServerParameters(
                command=args.binary, args=["--config", args.config, "mcp"], env=env
            )
            read, write = await stack.enter_async_context(stdio_client(params))
        else:
            from mcp.client.streamable_http import streamablehttp_client

            headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
            read, write, _ = await stack.enter_async_context(
                streamablehttp_client(args.url, headers=headers)
            )
        session = await stack.enter_async_context(
            ClientSession(read, write, client_info=CLIENT)
        )
        await session.initialize()
        listed = await session.list_tools()
        out = {"tools": [t.name for t in listed.tools], "results": []}
        for call in calls:
            if "wait_for_file" in call:
                # Lets the test act between two calls (e.g. revoke the token).
                while not os.path.exists(call["wait_for_file"]):
                    await asyncio.sleep(0.05)
                continue
            r = await session.call_tool(call["tool"], call.get("args", {}))
            out["results"].append(
                {
                    "is_error": bool(r.isError),
                    "structured": r.structuredContent,
                    "text": [c.text for c in r.content if getattr(c, "type", "") == "text"],
                }
            )
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--transport", choices=["stdio", "http"], required=True)
    p.add_argument("--binary")
    p.add_argument("--config")
    p.add_argument("--url")
    p.add_argument("--token", default="")
    p.add_argument("--calls", default="[]")
    args = p.parse_args()
    try:
        out = asyncio.run(asyncio.wait_for(run(args), timeout=90))
    except BaseException as e:  # noqa: BLE001 - any failure is reported to the test
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        print(json.dumps({"error": repr(e)}))
        sys.exit(3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
