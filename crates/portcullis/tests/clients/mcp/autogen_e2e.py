#!/usr/bin/env python3
"""AutoGen end to end: an AssistantAgent with autogen-ext MCP tools pointed
at `portcullis mcp` (stdio), its model replayed from a script (no network).

The scripted model asks for three tool calls, one per turn: DROP TABLE, a
SELECT of card numbers, and a bulk UPDATE. Prints the tool results the agent
received as JSON ({"tool_results": [{"name", "is_error", "content"}]}); the
Rust test (crates/portcullis/tests/mcp.rs) checks them and the database.
"""

import argparse
import asyncio
import json
import os
import sys

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import ToolCallExecutionEvent
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient
from autogen_ext.tools.mcp import McpWorkbench, StdioServerParams


def call(n, sql):
    return CreateResult(
        finish_reason="function_calls",
        content=[
            FunctionCall(
                id=f"call-{n}",
                name="query",
                arguments=json.dumps({"connection": "shop", "sql": sql}),
            )
        ],
        usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
        cached=False,
    )


async def run(args):
    t = args.table
    script = [
        call(1, f"DROP TABLE {t}"),
        call(2, f"SELECT id, card_number FROM {t} ORDER BY id"),
        call(3, f"UPDATE {t} SET status = 'shipped'"),
        "The table could not be dropped, card numbers are masked, and the update waits for review. TERMINATE",
    ]
    model = ReplayChatCompletionClient(
        script,
        model_info={
            "vision": False,
            "function_calling": True,
            "json_output": False,
            "family": "unknown",
            "structured_output": False,
        },
    )
    env = dict(os.environ)
    env["PORTCULLIS_TOKEN"] = args.token
    server = StdioServerParams(
        command=args.binary,
        args=["--config", args.config, "mcp"],
        env=env,
        read_timeout_seconds=60,
    )
    results = []
    async with McpWorkbench(server) as workbench:
        agent = AssistantAgent(
            "dba",
            model_client=model,
            workbench=workbench,
            max_tool_iterations=4,
            reflect_on_tool_use=False,
        )
        outcome = await agent.run(task="Clean up the orders table and ship every order.")
        for message in outcome.messages:
            if isinstance(message, ToolCallExecutionEvent):
                for r in message.content:
                    results.append(
                        {"name": r.name, "is_error": bool(r.is_error), "content": r.content}
                    )
    return {"tool_results": results}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--table", required=True)
    args = p.parse_args()
    out = asyncio.run(asyncio.wait_for(run(args), timeout=120))
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
