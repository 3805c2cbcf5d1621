"""Deterministic benchmark corpora: Claude Code session logs, OTLP GenAI spans, FOCUS and CUR lines.

    .venv/bin/python -m benchmarks.corpus claude-code OUT --gb 1 --days 60
    .venv/bin/python -m benchmarks.corpus claude-code OUT --gb 5 --single-file
    .venv/bin/python -m benchmarks.corpus otlp OUT/spans.jsonl --mb 100
    .venv/bin/python -m benchmarks.corpus focus OUT/focus.csv --mb 100
    .venv/bin/python -m benchmarks.corpus cur OUT/cur.csv --mb 100

Claude Code logs are assembled from the real record templates in
``tests/fixtures/claude_code/records`` (claude-code-log 1.7.0 dev-docs, MIT; see the
PROVENANCE.md there): each record keeps its real shape and content, only ids, timestamps,
token counts, model, cwd and session change. Like Claude Code, a reply is written as one line per
content block (thinking, text, tool_use) sharing ``message.id`` and ``requestId``; early lines carry
partial ``output_tokens`` and the last line the final count. Tool calls are followed by their real
``tool_result`` records; Task calls run a subagent whose sidechain lines go inline
(``isSidechain``, older versions) or to ``<session>/subagents/agent-<id>.jsonl``; 1 in 4 subagents
replays its parent's reply under a new requestId (ccusage #913); 1 turn in 200 ends in a local
``<synthetic>`` API-error message. JSON is compact, as Claude Code writes it.

Every day is generated from its own seed (``seed``, day index), so day 61 of a 61-day corpus is
the same bytes as the new day added to a 60-day one, and day sizes are targeted at
``bytes / days``. OTLP, FOCUS and CUR generators vary real fixture rows the same way.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RECORD_DIRS = (REPO / "tests" / "fixtures" / "claude_code" / "records",)
START = date(2025, 11, 1)
_B62 = string.digits + string.ascii_letters
_PH = re.compile(r'"@@(\w+)@@"')


def _ph(name: str) -> str:
    return f"@@{name}@@"


class Tmpl:
    """A JSON line with ``"@@name@@"`` holes, filled with JSON text (fast: one join per line)."""

    def __init__(self, text: str) -> None:
        parts = _PH.split(text)
        self.lits = parts[0::2]
        self.names = parts[1::2]

    def render(self, vals: dict[str, str]) -> str:
        out = [self.lits[0]]
        for name, lit in zip(self.names, self.lits[1:], strict=True):
            out.append(vals[name])
            out.append(lit)
        return "".join(out)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


ENVELOPE = ("parentUuid", "isSidechain", "cwd", "sessionId", "version", "gitBranch", "uuid", "timestamp")


def _record_template(rec: dict[str, Any], replace: dict[str, str] | None = None) -> Tmpl:
    """Envelope fields become holes, and so does every value in ``replace`` (original -> hole);
    ``agentId`` is written only for sidechain records (hole ``agentkv``: text or empty)."""
    rec = {k: v for k, v in rec.items() if k != "agentId"}
    for k in ENVELOPE:
        rec[k] = _ph(k)
    text = _dumps(rec).replace('"isSidechain":"@@isSidechain@@"', '"isSidechain":"@@isSidechain@@""@@agentkv@@"')
    for orig, hole in (replace or {}).items():
        text = text.replace(_j(orig), f'"@@{hole}@@"')
    return Tmpl(text)


@dataclass
class Templates:
    prompts: list[tuple[Tmpl, int]]  # (template, weight)
    blocks_text: list[str]
    blocks_thinking: list[str]
    tool_use: dict[str, str]  # name -> content block JSON with "@@toolid@@"
    tool_result: dict[str, list[Tmpl]]  # name -> [ok, error?]
    assistant: Tmpl
    system: Tmpl
    snapshot: Tmpl
    summary: Tmpl

    @classmethod
    def load(cls, root: Path | None = None) -> Templates:
        root = root or next((d for d in RECORD_DIRS if d.is_dir()), RECORD_DIRS[-1])

        def rec(rel: str) -> dict[str, Any]:
            return json.loads((root / rel).read_text().splitlines()[0])

        prompts: list[tuple[Tmpl, int]] = []
        for rel, w in (
            ("user/user.jsonl", 60),
            ("user/user_command.jsonl", 8),
            ("user/user_slash_command.jsonl", 8),
            ("user/bash_input.jsonl", 8),
            ("user/bash_output.jsonl", 6),
            ("user/command_output.jsonl", 8),
            ("user/image.jsonl", 1),
        ):
            if (root / rel).is_file():
                prompts.append((_record_template(rec(rel)), w))
        texts, thinking, uses, results = [], [], {}, {}
        for f in sorted(root.glob("assistant/*.jsonl")) + sorted(root.glob("tools/*-tool_use.jsonl")):
            r = json.loads(f.read_text().splitlines()[0])
            for b in r["message"]["content"]:
                if b["type"] == "text":
                    texts.append(_dumps(b))
                elif b["type"] == "thinking":
                    thinking.append(_dumps(b))
                elif b["type"] == "tool_use" and b["name"] in TOOL_WEIGHTS:
                    uses[b["name"]] = _dumps({**b, "id": _ph("toolid")})
                    res = []
                    for suffix in ("tool_result", "tool_result_error"):
                        p = root / "tools" / f"{b['name']}-{suffix}.jsonl"
                        if p.is_file():
                            rr = json.loads(p.read_text().splitlines()[0])
                            old = rr["message"]["content"][0]["tool_use_id"]
                            extra = rr.get("toolUseResult")
                            agent = extra.get("agentId") if isinstance(extra, dict) else None
                            holes = {old: "toolid", **({agent: "subagent"} if agent else {})}
                            res.append(_record_template(rr, holes))
                    if res:
                        results[b["name"]] = res
        a = rec("assistant/assistant.jsonl")
        a["message"] = {
            **a["message"],
            "id": _ph("msgid"),
            "model": _ph("model"),
            "content": [_ph("block")],
            "stop_reason": _ph("stop"),
            "usage": {
                "input_tokens": _ph("inp"),
                "cache_creation_input_tokens": _ph("cw"),
                "cache_read_input_tokens": _ph("cr"),
                "cache_creation": {
                    "ephemeral_5m_input_tokens": _ph("cw"),
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": _ph("out"),
                "service_tier": "standard",
            },
        }
        a["requestId"] = _ph("reqid")
        a["isApiErrorMessage"] = _ph("apierr")
        return cls(
            prompts=prompts,
            blocks_text=texts,
            blocks_thinking=thinking,
            tool_use=uses,
            tool_result=results,
            assistant=_record_template(a),
            system=_record_template(rec("system/system_info.jsonl")),
            snapshot=Tmpl(_dumps({**rec("system/file_history_snapshot.jsonl"), "messageId": _ph("uuid")})),
            summary=Tmpl(_dumps({**rec("system/summary.jsonl"), "leafUuid": _ph("uuid")})),
        )


TOOL_WEIGHTS = {
    "Read": 25, "Bash": 20, "Edit": 12, "TodoWrite": 8, "Grep": 8, "Glob": 6, "Write": 4,
    "MultiEdit": 3, "Task": 3, "WebFetch": 2, "WebSearch": 2, "BashOutput": 2, "LS": 2,
    "KillShell": 1, "AskUserQuestion": 1, "ExitPlanMode": 1,
}  # fmt: skip
MODELS = (
    ("claude-sonnet-4-5-20250929", 60),
    ("claude-opus-4-1-20250805", 15),
    ("claude-haiku-4-5-20251001", 15),
    ("claude-sonnet-4-20250514", 10),
)
PROJECTS = ("shop.app", "billing-api", "infra", "docs-site", "ml-pipeline", "mobile", "cli-tools", "data-warehouse")
VERSIONS = ("1.0.128", "2.0.5", "2.0.28", "2.0.37")


def project_dir(name: str) -> str:
    """Claude Code's folder name for a cwd: '/' and '.' become '-'."""
    return re.sub(r"[/.]", "-", f"/home/dev/src/{name}")


class _Session:
    """One Claude Code session (one day), written line by line."""

    def __init__(self, t: Templates, rng: random.Random, day: date, project: str) -> None:
        self.t, self.rng = t, rng
        self.sid = self.uuid()
        self.env = {
            "cwd": _j(f"/home/dev/src/{project}"),
            "sessionId": _j(self.sid),
            "version": _j(rng.choice(VERSIONS)),
            "gitBranch": _j(rng.choice(("main", "main", "feature/x", "fix/bug"))),
            "isSidechain": "false",
            "agentkv": "",
        }
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=rng.uniform(7 * 3600, 21 * 3600)
        )
        self.now = start
        self.model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        self.cache = rng.randint(8000, 15000)  # system prompt + tools, cached from the first call
        self.lines: list[str] = []
        self.subagents: dict[str, list[str]] = {}
        self.last_reply: tuple[str, str, int, int, int, int, str] | None = None

    # ids and time
    def uuid(self) -> str:
        r = self.rng.getrandbits
        return f"{r(32):08x}-{r(16):04x}-4{r(12):03x}-{0x8000 | r(14):04x}-{r(48):012x}"

    def b62(self, n: int) -> str:
        return "".join(self.rng.choice(_B62) for _ in range(n))

    def tick(self, lo: float, hi: float) -> str:
        self.now += timedelta(seconds=self.rng.uniform(lo, hi))
        return _j(self.now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.now.microsecond // 1000:03d}Z")

    # records
    def _env(self, parent: str | None, uuid: str, ts: str, side: dict[str, str] | None) -> dict[str, str]:
        return {**self.env, **(side or {}), "parentUuid": _j(parent), "uuid": _j(uuid), "timestamp": ts}

    def prompt(self, parent: str | None) -> str:
        t = self.t
        tmpl = self.rng.choices([p for p, _ in t.prompts], [w for _, w in t.prompts])[0]
        uuid = self.uuid()
        if self.rng.random() < 0.8:
            self.lines.append(t.snapshot.render({"uuid": _j(uuid)}))
        self.lines.append(tmpl.render(self._env(parent, uuid, self.tick(20, 600), None)))
        return uuid

    def reply(
        self, parent: str, out: list[str], tools: bool, side: dict[str, str] | None = None
    ) -> tuple[str, list[tuple[str, str]]]:
        """One API call as 1-4 streamed lines; returns the last line's uuid and tool calls."""
        rng, t = self.rng, self.t
        blocks: list[str] = []
        if rng.random() < 0.3:
            blocks.append(rng.choice(t.blocks_thinking))
        if rng.random() < 0.8 or not tools:
            blocks.append(rng.choice(t.blocks_text))
        calls: list[tuple[str, str]] = []
        if tools:
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                name = rng.choices(list(TOOL_WEIGHTS), list(TOOL_WEIGHTS.values()))[0]
                if name not in t.tool_use:
                    continue
                tid = "toolu_01" + self.b62(22)
                calls.append((name, tid))
                blocks.append(t.tool_use[name].replace('"@@toolid@@"', _j(tid)))
        if not blocks:
            blocks.append(rng.choice(t.blocks_text))
        msgid, reqid = "msg_01" + self.b62(22), "req_011C" + self.b62(20)
        model = (side or {}).get("_model") or self.model
        new = rng.randint(50, 6000)
        cw, cr, inp = new, self.cache, rng.randint(1, 12)
        self.cache += new
        final = int(min(32000, rng.lognormvariate(5.3, 1.1))) + 1
        ts = self.tick(2, 40)
        env_side = {k: v for k, v in (side or {}).items() if not k.startswith("_")}
        for i, block in enumerate(blocks):
            last = i == len(blocks) - 1
            uuid = self.uuid()
            vals = self._env(parent, uuid, ts if i == 0 else self.tick(0.2, 15), env_side)
            vals.update(
                msgid=_j(msgid), reqid=_j(reqid), model=_j(model), block=block,
                stop=_j("tool_use" if calls else "end_turn") if last else "null",
                inp=str(inp), cw=str(cw), cr=str(cr),
                out=str(final if last else min(final, rng.randint(1, 12))), apierr="false",
            )  # fmt: skip
            out.append(t.assistant.render(vals))
            parent = uuid
        self.last_reply = (msgid, model, inp, cw, cr, final, parent)
        return parent, calls

    def results(
        self, parent: str, calls: list[tuple[str, str]], out: list[str], side: dict[str, str] | None = None
    ) -> str:
        for name, tid in calls:
            variants = self.t.tool_result.get(name)
            if not variants:
                continue
            tmpl = variants[1] if len(variants) > 1 and self.rng.random() < 0.05 else variants[0]
            uuid = self.uuid()
            vals = self._env(parent, uuid, self.tick(0.5, 30), side)
            vals["toolid"] = _j(tid)
            if name == "Task":
                agent = f"{self.rng.getrandbits(32):08x}"
                vals["subagent"] = _j(agent)
                self.subagent(parent, agent)
            out.append(tmpl.render(vals))
            parent = uuid
        return parent

    def subagent(self, parent: str, agent: str) -> None:
        """A Task's subagent: a few calls, inline (sidechain) or in subagents/agent-<id>.jsonl."""
        inline = self.rng.random() < 0.5
        out = self.lines if inline else self.subagents.setdefault(agent, [])
        side = {
            "isSidechain": "true",
            "agentkv": f',"agentId":{_j(agent)}',
            "_model": "claude-haiku-4-5-20251001",
        }
        env_side = {k: v for k, v in side.items() if not k.startswith("_")}
        saved_cache = self.cache
        if self.last_reply and self.rng.random() < 0.25:  # sidechain replay of the parent reply
            msgid, model, inp, cw, cr, final, _ = self.last_reply
            vals = self._env(None, self.uuid(), self.tick(0.1, 1), env_side)
            vals.update(
                msgid=_j(msgid), reqid=_j("req_011C" + self.b62(20)), model=_j(model),
                block=self.rng.choice(self.t.blocks_text), stop=_j("end_turn"),
                inp=str(inp), cw=str(cw), cr=str(cr), out=str(final), apierr="false",
            )  # fmt: skip
            out.append(self.t.assistant.render(vals))
        self.cache = self.rng.randint(3000, 9000)
        p: str = parent
        for n in range(self.rng.randint(2, 5)):
            p, calls = self.reply(p, out, tools=n < 3, side=side)
            if calls:
                p = self.results(p, [c for c in calls if c[0] != "Task"], out, env_side)
        self.cache = saved_cache

    def synthetic(self, parent: str) -> None:
        vals = self._env(parent, self.uuid(), self.tick(1, 5), None)
        vals.update(
            msgid=_j(self.uuid()), reqid="null", model=_j("<synthetic>"),
            block=_dumps({"type": "text", "text": "API Error: 529 Overloaded"}),
            stop=_j("stop_sequence"), inp="0", cw="0", cr="0", out="0", apierr="true",
        )  # fmt: skip
        self.lines.append(self.t.assistant.render(vals))

    def run(self) -> None:
        rng = self.rng
        parent: str | None = None
        if rng.random() < 0.2:
            self.lines.append(self.t.summary.render({"uuid": _j(self.uuid())}))
        for _ in range(rng.randint(2, 12)):
            parent = self.prompt(parent)
            ncalls = rng.randint(1, 8)
            for c in range(ncalls):
                parent, calls = self.reply(parent, self.lines, tools=c < ncalls - 1)
                if calls:
                    parent = self.results(parent, calls, self.lines)
                    if rng.random() < 0.1:
                        vals = self._env(parent, self.uuid(), self.tick(0.1, 1), None)
                        self.lines.append(self.t.system.render(vals))
            if rng.random() < 0.005:
                self.synthetic(parent)


def claude_code_day(t: Templates, seed: int, day_index: int, target_bytes: int) -> Iterator[_Session]:
    """Sessions of one day until ``target_bytes`` of lines are produced (deterministic)."""
    rng = random.Random(f"{seed}:{day_index}")
    day = START + timedelta(days=day_index)
    done = 0
    while done < target_bytes:
        s = _Session(t, random.Random(rng.getrandbits(64)), day, rng.choice(PROJECTS))
        s.run()
        done += sum(len(x) + 1 for x in s.lines)
        done += sum(len(x) + 1 for lines in s.subagents.values() for x in lines)
        yield s


def write_claude_code(
    out: Path, gb: float, days: int, seed: int = 7, first_day: int = 0, single_file: bool = False
) -> dict[str, Any]:
    """Write ``projects/<proj>/<session>.jsonl`` (and subagent files) for days
    ``first_day .. first_day + days - 1``; the size is ``gb`` GiB over ``days``... days.
    With ``single_file`` everything goes to ``out/projects/big/big.jsonl`` (one stream)."""
    t = Templates.load()
    per_day = int(gb * (1 << 30) / days)
    files = nbytes = 0
    big = None
    if single_file:
        p = out / "projects" / project_dir("big") / "big.jsonl"
        p.parent.mkdir(parents=True, exist_ok=True)
        big = open(p, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for d in range(first_day, first_day + days):
            for s in claude_code_day(t, seed, d, per_day):
                groups = [(f"{s.sid}.jsonl", s.lines)] + [
                    (f"{s.sid}/subagents/agent-{a}.jsonl", lines) for a, lines in s.subagents.items()
                ]
                proj = json.loads(s.env["cwd"]).rsplit("/", 1)[1]
                for rel, lines in groups:
                    text = "\n".join(lines) + "\n"
                    nbytes += len(text.encode())
                    if big is not None:
                        big.write(text)
                        continue
                    p = out / "projects" / project_dir(proj) / rel
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_text(text, encoding="utf-8")
                    files += 1
    finally:
        if big is not None:
            big.close()
            files = 1
    return {"files": files, "bytes": nbytes, "days": days, "first_day": first_day}


def day_date(index: int) -> date:
    return START + timedelta(days=index)


# -- OTLP GenAI spans ---------------------------------------------------------------------------


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def write_otlp(path: Path, mb: float, seed: int = 7, days: int = 30) -> dict[str, Any]:
    """Collector ``file`` exporter output: one ExportTraceServiceRequest a line, a trace each:
    an ``invoke_workflow`` span and 1-6 ``chat`` spans with OTel GenAI semconv usage attributes."""
    rng = random.Random(seed)
    target = int(mb * (1 << 20))
    n = spans = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    base = datetime(START.year, START.month, START.day, tzinfo=UTC)
    wfs = ("support_triage", "rag_search", "summarise", "code_review", "checkout_assist")
    models = (("anthropic", "claude-sonnet-4-5-20250929"), ("openai", "gpt-4o-mini-2024-07-18"), ("openai", "gpt-4.1-2025-04-14"))
    with open(path, "w", encoding="utf-8") as fh:
        while n < target:
            trace = f"{rng.getrandbits(128):032x}"
            root = f"{rng.getrandbits(64):016x}"
            t0 = base + timedelta(seconds=rng.uniform(0, days * 86400))
            ns = int(t0.timestamp() * 1e9)
            wf = rng.choice(wfs)
            out = [{
                "traceId": trace, "spanId": root, "parentSpanId": "", "name": f"invoke_workflow {wf}",
                "kind": 1, "startTimeUnixNano": str(ns), "endTimeUnixNano": str(ns + 9_000_000_000),
                "attributes": [_attr("gen_ai.operation.name", "invoke_workflow"), _attr("gen_ai.workflow.name", wf),
                               _attr("gen_ai.conversation.id", f"conv-{rng.randint(1, 10**6)}"),
                               _attr("user.id", f"u-{rng.randint(1, 500)}")],
                "status": {"code": 0},
            }]  # fmt: skip
            for i in range(rng.randint(1, 6)):
                provider, model = rng.choice(models)
                start = ns + i * 1_200_000_000
                inp = rng.randint(200, 20000)
                out.append({
                    "traceId": trace, "spanId": f"{rng.getrandbits(64):016x}", "parentSpanId": root,
                    "name": f"chat {model}", "kind": 3, "startTimeUnixNano": str(start),
                    "endTimeUnixNano": str(start + rng.randint(300, 9000) * 1_000_000),
                    "attributes": [
                        _attr("gen_ai.operation.name", "chat"), _attr("gen_ai.provider.name", provider),
                        _attr("gen_ai.request.model", model.rsplit("-20", 1)[0]), _attr("gen_ai.response.model", model),
                        _attr("gen_ai.response.id", f"resp_{rng.getrandbits(80):020x}"),
                        _attr("gen_ai.usage.input_tokens", inp),
                        _attr("gen_ai.usage.cache_read.input_tokens", rng.randint(0, inp)),
                        _attr("gen_ai.usage.output_tokens", int(rng.lognormvariate(5, 1)) + 1),
                        _attr("gen_ai.response.finish_reasons", "stop"),
                    ],
                    "status": {"code": 0},
                })  # fmt: skip
            line = _dumps({"resourceSpans": [{
                "resource": {"attributes": [_attr("service.name", wf.replace("_", "-"))]},
                "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.genai", "version": "1.0.0"}, "spans": out}],
            }]})  # fmt: skip
            fh.write(line + "\n")
            n += len(line) + 1
            spans += len(out)
    return {"bytes": n, "spans": spans}


# -- FOCUS and CUR -----------------------------------------------------------------------------


def _vary_csv(template: Path, path: Path, mb: float, seed: int, vary: Any) -> dict[str, Any]:
    rows = list(csv.DictReader(template.open(newline="", encoding="utf-8")))
    header = list(rows[0].keys())
    rng = random.Random(seed)
    target = int(mb * (1 << 20))
    n = count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, header)
        w.writeheader()
        buf = io.StringIO()
        bw = csv.DictWriter(buf, header)
        while n < target:
            row = dict(rng.choice(rows))
            vary(row, rng, count)
            buf.seek(0)
            buf.truncate()
            bw.writerow(row)
            text = buf.getvalue()
            fh.write(text)
            n += len(text)
            count += 1
    return {"bytes": n, "rows": count}


def _hour(rng: random.Random, days: int = 30) -> datetime:
    return datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(hours=rng.randrange(days * 24))


def write_focus(path: Path, mb: float, seed: int = 7) -> dict[str, Any]:
    """FOCUS 1.2 rows varied from the constructed Bedrock/Azure OpenAI fixture rows."""
    fix = REPO / "tests" / "fixtures" / "focus" / "aws_focus_1.2_bedrock_constructed.csv"

    def vary(row: dict[str, str], rng: random.Random, i: int) -> None:
        start = _hour(rng)
        q = round(rng.uniform(1, 5000), 3)
        price = float(row["ListUnitPrice"] or 0.003)
        cost = f"{q * price:.10f}"
        iso = "%Y-%m-%dT%H:%M:%S.000Z"
        row.update(
            ChargePeriodStart=start.strftime(iso), ChargePeriodEnd=(start + timedelta(hours=1)).strftime(iso),
            BillingPeriodStart=start.replace(day=1, hour=0).strftime(iso),
            ConsumedQuantity=str(q), PricingQuantity=str(q), BilledCost=cost, EffectiveCost=cost,
            ListCost=cost, ContractedCost=cost, SubAccountId=str(210987654321 + rng.randrange(20)),
        )  # fmt: skip

    return _vary_csv(fix, path, mb, seed, vary)


def write_cur(path: Path, mb: float, seed: int = 7) -> dict[str, Any]:
    """CUR 2.0 Bedrock line items varied from the constructed fixture rows."""
    fix = REPO / "tests" / "fixtures" / "aws_cur" / "bedrock_cur2.csv"

    def vary(row: dict[str, str], rng: random.Random, i: int) -> None:
        start = _hour(rng)
        iso = "%Y-%m-%dT%H:%M:%SZ"
        q = round(rng.uniform(1, 5000), 3)
        rate = float(row["line_item_unblended_rate"] or 0.003)
        cost = f"{q * rate:.10f}"
        s, e = start.strftime(iso), (start + timedelta(hours=1)).strftime(iso)
        row.update(
            identity_line_item_id=f"{rng.getrandbits(192):048x}", identity_time_interval=f"{s}/{e}",
            line_item_usage_start_date=s, line_item_usage_end_date=e,
            bill_billing_period_start_date=start.replace(day=1, hour=0).strftime(iso),
            line_item_usage_amount=str(q), line_item_unblended_cost=cost,
            line_item_net_unblended_cost=cost, pricing_public_on_demand_cost=cost,
            line_item_usage_account_id=str(444455556666 + rng.randrange(20)),
        )  # fmt: skip

    return _vary_csv(fix, path, mb, seed, vary)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("claude-code", "otlp", "focus", "cur"))
    ap.add_argument("out", type=Path)
    ap.add_argument("--gb", type=float, default=1.0, help="claude-code: total size (GiB)")
    ap.add_argument("--mb", type=float, default=100.0, help="otlp/focus/cur: size (MiB)")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--first-day", type=int, default=0, help="claude-code: index of the first day")
    ap.add_argument("--single-file", action="store_true", help="claude-code: one big JSONL file")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    if a.kind == "claude-code":
        info = write_claude_code(a.out, a.gb, a.days, a.seed, a.first_day, a.single_file)
    else:
        fn = {"otlp": write_otlp, "focus": write_focus, "cur": write_cur}[a.kind]
        info = fn(a.out, a.mb, a.seed)
    json.dump(info, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
