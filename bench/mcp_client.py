#!/usr/bin/env python3
"""Times MCP `query` tool calls against Portcullis with the official MCP
Python SDK (used by bench/mcp.sh), and the same statement with psycopg.

Prints one line of JSON: {"calls": N, "seconds": S, "per_call_ms": M}.
The first call (session set-up, catalog reads) is made before timing.
"""

import argparse
import asyncio
import json
import os
import time
from contextlib import AsyncExitStack


async def mcp(args):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    async with AsyncExitStack() as stack:
        if args.transport == "stdio":
            env = dict(os.environ, PORTCULLIS_TOKEN=args.token, PORTCULLIS_LOG="warn")
            params = StdioServerParameters(
                command=args.binary, args=["--config", args.config, "mcp"], env=env
            )
            read, write = await stack.enter_async_context(stdio_client(params))
        else:
            from mcp.client.streamable_http import streamablehttp_client

            headers = {"Authorization": f"Bearer {args.token}"}
            read, write, _ = await stack.enter_async_context(
                streamablehttp_client(args.url, headers=headers)
            )
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        call = {"connection": args.connection, "sql": args.sql}
        first = await session.call_tool("query", call)
        if first.isError:
            raise SystemExit(f"query failed: {first.content}")
        start = time.perf_counter()
        for _ in range(args.n):
            await session.call_tool("query", call)
        return time.perf_counter() - start


def psycopg_loop(args):
    import psycopg

    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(args.sql).fetchall()
        start = time.perf_counter()
        for _ in range(args.n):
            conn.execute(args.sql).fetchall()
        return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--transport", choices=["stdio", "http", "psycopg"], required=True)
    p.add_argument("--binary")
    p.add_argument("--config")
    p.add_argument("--url")
    p.add_argument("--dsn")
    p.add_argument("--token", default="")
    p.add_argument("--connection", default="")
    p.add_argument("--sql", required=True)
    p.add_argument("-n", type=int, default=500)
    args = p.parse_args()
    if args.transport == "psycopg":
        seconds = psycopg_loop(args)
    else:
        seconds = asyncio.run(mcp(args))
    print(json.dumps({"calls": args.n, "seconds": seconds, "per_call_ms": seconds * 1000 / args.n}))


if __name__ == "__main__":
    main()
