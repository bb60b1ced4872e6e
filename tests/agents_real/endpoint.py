#!/usr/bin/env python3
"""A scripted model endpoint for the opt-in real-agent tests (tests/agents_real.rs): loopback only.

It speaks the Anthropic Messages API, OpenAI Chat Completions and Responses, and Gemini's
generateContent, streaming (SSE) included. Its "model" is a script: asked with tools, it calls the
CLI's shell tool once with the command in $SCRIPTED_COMMAND; given that tool's result, it answers
"Done." and ends. MODE changes that: `reject` answers 401 to everything, `hang` accepts each request
and never answers. Every request is appended to $SCRIPTED_LOG (one JSON line: method, path, tools).

Usage: endpoint.py PORT_FILE  (it listens on 127.0.0.1, a free port, written to PORT_FILE)
"""
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMAND = os.environ.get("SCRIPTED_COMMAND", "echo scripted")
MODE = os.environ.get("SCRIPTED_MODE", "work")
LOG = os.environ.get("SCRIPTED_LOG")
SHELL_TOOLS = ["Bash", "bash", "shell", "exec_command", "shell_command", "run_shell_command", "local_shell"]
LOCK = threading.Lock()


def log(entry):
    if LOG:
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")


def pick_tool(tools):
    """(name, arguments) for the shell tool among `tools` [(name, schema)]."""
    by_name = {n: s for n, s in tools}
    for wanted in SHELL_TOOLS:
        if wanted in by_name:
            props = (by_name[wanted] or {}).get("properties", {}) or {}
            if "cmd" in props and "command" not in props:
                return wanted, {"cmd": COMMAND}
            if (props.get("command") or {}).get("type") == "array":
                return wanted, {"command": ["bash", "-c", COMMAND]}
            args = {"command": COMMAND}
            if "description" in props:
                args["description"] = "Fix the issue, run its check, signal done"
            return wanted, args
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def send_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data, event=None):
        text = (f"event: {event}\n" if event else "") + f"data: {json.dumps(data)}\n\n"
        self.wfile.write(text.encode())
        self.wfile.flush()

    def do_GET(self):
        log({"method": "GET", "path": self.path})
        if MODE == "reject":
            return self.reject()
        if "models" in self.path:
            return self.send_json({"object": "list", "data": [{"id": "scripted", "object": "model", "created": 0, "owned_by": "tests"}],
                                   "models": [{"name": "models/scripted", "supportedGenerationMethods": ["generateContent"]}]})
        self.send_json({})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def reject(self):
        self.send_json({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key (scripted endpoint: key rejected)",
                                                   "code": 401, "status": "UNAUTHENTICATED"}}, 401)

    def do_POST(self):
        req = self.body()
        path = self.path.split("?", 1)[0]
        if MODE == "hang":
            log({"method": "POST", "path": path, "hang": True})
            time.sleep(3600)
            return
        if MODE == "reject":
            log({"method": "POST", "path": path, "rejected": True})
            return self.reject()
        if "/messages" in path and "count_tokens" in path:
            return self.send_json({"input_tokens": 100})
        if path.rstrip("/").endswith("/messages"):
            return self.anthropic(req)
        if "chat/completions" in path:
            return self.chat(req)
        if path.rstrip("/").endswith("/responses"):
            return self.openai_responses(req)
        if ":countTokens" in path:
            return self.send_json({"totalTokens": 100})
        if ":generateContent" in path or ":streamGenerateContent" in path:
            return self.gemini(req, ":streamGenerateContent" in path)
        log({"method": "POST", "path": path, "unknown": True})
        self.send_json({"error": {"message": f"scripted endpoint: unknown path {path}"}}, 404)

    # --- Anthropic Messages -------------------------------------------------------------------
    def anthropic(self, req):
        tools = [(t.get("name"), t.get("input_schema")) for t in req.get("tools") or []]
        done = any(isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
                   for m in req.get("messages", []))
        name, args = pick_tool(tools)
        log({"api": "anthropic", "tools": [n for n, _ in tools], "answered": "text" if done or not name else name})
        mid = "msg_" + uuid.uuid4().hex[:12]
        usage = {"input_tokens": 1000, "output_tokens": 50}
        if done or not name:
            content = [{"type": "text", "text": "Done."}]
            stop = "end_turn"
        else:
            content = [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:12], "name": name, "input": args}]
            stop = "tool_use"
        msg = {"id": mid, "type": "message", "role": "assistant", "model": req.get("model", "scripted"), "content": content,
               "stop_reason": stop, "stop_sequence": None, "usage": usage}
        if not req.get("stream"):
            return self.send_json(msg)
        self.start_sse()
        self.sse({"type": "message_start", "message": {**msg, "content": [], "stop_reason": None, "usage": {"input_tokens": 1000, "output_tokens": 1}}}, "message_start")
        block = content[0]
        if block["type"] == "text":
            self.sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}, "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": block["text"]}}, "content_block_delta")
        else:
            self.sse({"type": "content_block_start", "index": 0, "content_block": {**block, "input": {}}}, "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 50}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")

    # --- OpenAI Chat Completions --------------------------------------------------------------
    def chat(self, req):
        tools = [((t.get("function") or {}).get("name"), (t.get("function") or {}).get("parameters")) for t in req.get("tools") or []]
        done = any(m.get("role") == "tool" for m in req.get("messages", []))
        name, args = pick_tool(tools)
        log({"api": "chat", "tools": [n for n, _ in tools], "answered": "text" if done or not name else name})
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]
        usage = {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}
        if done or not name:
            message = {"role": "assistant", "content": "Done."}
            finish = "stop"
        else:
            call = {"id": "call_" + uuid.uuid4().hex[:12], "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
        base = {"id": cid, "created": int(time.time()), "model": req.get("model", "scripted")}
        if not req.get("stream"):
            return self.send_json({**base, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
        self.start_sse()
        chunk = {**base, "object": "chat.completion.chunk"}
        if finish == "stop":
            self.sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Done."}, "finish_reason": None}]})
        else:
            call = message["tool_calls"][0]
            self.sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, **call}]}, "finish_reason": None}]})
        self.sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        self.sse({**chunk, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # --- OpenAI Responses ---------------------------------------------------------------------
    def openai_responses(self, req):
        tools = [(t.get("name"), t.get("parameters")) for t in req.get("tools") or [] if t.get("type") in ("function", None)]
        items = req.get("input") if isinstance(req.get("input"), list) else []
        done = any(i.get("type") in ("function_call_output", "custom_tool_call_output") for i in items)
        name, args = pick_tool(tools)
        log({"api": "responses", "tools": [n for n, _ in tools], "answered": "text" if done or not name else name})
        rid = "resp_" + uuid.uuid4().hex[:12]
        usage = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 50,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 1050}
        if done or not name:
            item = {"type": "message", "id": "msg_" + uuid.uuid4().hex[:12], "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": "Done.", "annotations": []}]}
        else:
            item = {"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:12], "call_id": "call_" + uuid.uuid4().hex[:12],
                    "name": name, "arguments": json.dumps(args), "status": "completed"}
        resp = {"id": rid, "object": "response", "created_at": int(time.time()), "status": "completed", "model": req.get("model", "scripted"),
                "output": [item], "usage": usage}
        if not req.get("stream"):
            return self.send_json(resp)
        self.start_sse()
        self.sse({"type": "response.created", "response": {**resp, "status": "in_progress", "output": []}}, "response.created")
        self.sse({"type": "response.output_item.added", "output_index": 0, "item": item}, "response.output_item.added")
        if item["type"] == "message":
            self.sse({"type": "response.output_text.delta", "output_index": 0, "item_id": item["id"], "content_index": 0, "delta": "Done."}, "response.output_text.delta")
        self.sse({"type": "response.output_item.done", "output_index": 0, "item": item}, "response.output_item.done")
        self.sse({"type": "response.completed", "response": resp}, "response.completed")

    # --- Gemini -------------------------------------------------------------------------------
    def gemini(self, req, stream):
        decls = [(d.get("name"), d.get("parameters") or d.get("parametersJsonSchema")) for t in req.get("tools") or [] for d in t.get("functionDeclarations") or []]
        done = any("functionResponse" in p for c in req.get("contents", []) for p in c.get("parts", []))
        name, args = pick_tool(decls)
        log({"api": "gemini", "tools": [n for n, _ in decls], "answered": "text" if done or not name else name})
        config = req.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if schema is not None or config.get("responseMimeType") == "application/json":
            # A side request that wants JSON (gemini's model router): a value of its schema.
            part = {"text": json.dumps(sample(schema or {"type": "object"}))}
        elif done or not name:
            part = {"text": "Done."}
        else:
            part = {"functionCall": {"name": name, "args": args}}
        resp = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 50, "totalTokenCount": 1050}, "modelVersion": "scripted"}
        if not stream:
            return self.send_json(resp)
        self.start_sse()
        self.sse(resp)


def sample(schema):
    """The simplest value of a JSON schema (first enum value, 1, "scripted", every property)."""
    kind = str(schema.get("type", "object")).lower()
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object":
        return {k: sample(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return "scripted"


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
