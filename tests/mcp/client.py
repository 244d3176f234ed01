"""An MCP client the tests drive: the official Python SDK (PyPI `mcp`), not code of this project.

Usage: client.py URL KEY < plan.json, where plan.json is
    {"mode": "legacy" | "auto", "list_tools": bool, "calls": [{"tool": name, "arguments": {...}}, ...]}
("legacy" runs the initialize handshake, "auto" lets the SDK negotiate). KEY may be empty (no
`Authorization` header). Prints one JSON object: the server's identity, the tools with any
problem of their schemas, each call's result and the HTTP statuses seen; a failure to connect or call is reported as
`error` rather than raised, so the test can assert on it.
"""

import asyncio
import json
import sys

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def schema_problem(schema):
    """Why `schema` is not a valid JSON Schema object, or None."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return "not an object schema"
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as error:
        return error.message
    return None


def call_result(result):
    return {
        "isError": bool(result.is_error),
        "structuredContent": result.structured_content,
        "text": [block.text for block in result.content if getattr(block, "type", None) == "text"],
    }


async def run(url, key, plan):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    out = {"http_statuses": []}

    async def record(response):
        # The SDK reports a refused request without its status; the test wants to see it.
        out["http_statuses"].append(response.status_code)

    http_client = create_mcp_http_client(headers=headers)
    http_client.event_hooks = {"response": [record]}
    transport = streamable_http_client(url, http_client=http_client)
    try:
        async with Client(transport, mode=plan.get("mode", "legacy")) as client:
            info = client.server_info
            out["server"] = {"name": info.name, "version": info.version} if info else None
            out["protocol_version"] = client.protocol_version
            out["instructions"] = client.instructions
            if plan.get("list_tools"):
                listed = await client.list_tools()
                out["tools"] = [
                    {
                        "name": tool.name,
                        "description": tool.description,
                        "input_problem": schema_problem(tool.input_schema),
                        "output_problem": schema_problem(tool.output_schema),
                    }
                    for tool in listed.tools
                ]
            out["results"] = []
            for call in plan.get("calls", []):
                try:
                    result = await client.call_tool(call["tool"], call.get("arguments", {}))
                    out["results"].append(call_result(result))
                except Exception as error:  # the SDK's own refusal, e.g. output schema validation
                    out["results"].append({"exception": f"{type(error).__name__}: {error}"})
    except BaseException as error:  # noqa: BLE001 - connection refused, 401, ...
        out["error"] = describe(error)
    return out


def describe(error):
    """An exception group's leaves (anyio task groups wrap what the transport raised)."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


def main():
    url, key = sys.argv[1], sys.argv[2]
    plan = json.load(sys.stdin)
    print(json.dumps(asyncio.run(run(url, key, plan))))


if __name__ == "__main__":
    main()
