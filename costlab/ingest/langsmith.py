"""LangSmith runs: the run create/update payloads the SDKs send (``{"post": [...], "patch": [...]}``
batch bodies, or a list of ``{"post"|"patch": run}`` / ``{"operation", "run"}`` operations), and run
exports (``Client.list_runs`` dumped as a JSON list or JSONL, ``/runs/query`` pages ``{"runs"}``,
RunTrees with nested ``child_runs``), and feedback (``Client.list_feedback`` / ``GET /feedback``
records, alone or mixed with runs; ``feedback_stats`` on exported runs).

Detect: JSON/JSONL whose first object is such a batch, page or list, or a run: ``run_type`` with
``id``/``trace_id``/``dotted_order``, or a patch body (``dotted_order`` with ``outputs`` or
``end_time``), or a feedback record (``id``, ``key``, ``run_id``/``trace_id`` and ``score``/
``value``/``feedback_source``). Langfuse observations (``type``) and OTLP (``resourceSpans``) are
not runs.
Parse: the whole file (``parse_float=Decimal``); operations are merged per run id in file order
(posts before patches in a batch body), then each run becomes one span.
Normalise: run_type llm -> llm, embedding -> embedding, tool -> tool, retriever -> retrieval,
chain -> chain, prompt/parser -> other. Tokens from ``outputs.usage_metadata`` (input_tokens
already includes cache reads/writes, output_tokens includes reasoning; breakdown from
``input_token_details.cache_read/cache_creation/ephemeral_5m|1h_input_tokens`` and
``output_token_details.reasoning``), else the provider usage the run returned
(``outputs.llm_output.token_usage``, ``outputs.usage``, LangChain generation ``usage_metadata``:
OpenAI ``prompt_tokens`` is inclusive, Anthropic ``input_tokens`` is not and gets its cache parts
added), else the server's ``prompt_tokens``/``completion_tokens`` (+ ``*_token_details``).
reported_cost = ``usage_metadata.total_cost`` or the run's ``total_cost`` (USD). model = response
model (``outputs.model``, ``llm_output.model_name``, ``response_metadata.model_name``) else
``extra.invocation_params.model`` / ``extra.metadata.ls_model_name`` / ``inputs.model``; provider
``extra.metadata.ls_provider``; both via `costlab.names`. trace_id = ``trace_id`` (else the root of
``dotted_order``), parent = ``parent_run_id`` (else the previous ``dotted_order`` segment).
session = ``extra.metadata`` ``thread_id``/``session_id``/``conversation_id`` (LangSmith's own
``session_id`` is the project, kept in ``attributes``); workflow = a configured metadata key
(``workflow_attributes``) > root run name; step = run name; tags from ``tags``. An llm run whose
request declares tools (``inputs.tools`` / ``functions``, ``extra.invocation_params.tools``) gets
the ``costlab.tools`` summary of `costlab.ingest.tool_schemas` in ``attributes``.
Feedback (quality signals for the downgrade analyzer): one ``other`` span per numeric feedback,
operation ``evaluation``, name ``feedback:<key>``, parent = the run it scores, no tokens
(usage_scope ``none``, usage_source ``missing``), workflow/session/user/tags from that run when it
is in the file; ``attributes.attributes`` holds ``gen_ai.evaluation.name`` (the key),
``.score.value`` and ``.source`` as queries/analyze/downgrade_scores.sql reads them.
* a feedback record: span id = feedback id, start = ``created_at``, value = ``score`` (bool ->
  0/1), else a numeric ``value``; trace = its ``trace_id``, else its run's.
* ``feedback_stats`` ``{key: {n, avg, ...}}`` on a run: one span per key with ``avg`` as the
  value and ``n`` kept as ``score_aggregate_n``, span id ``<run id>:feedback:<key>``, start = the
  run's end (else start). Limitation: the analyzer counts one row as one observation, so a key
  with n > 1 enters as a single averaged score (its spread is lost) - export the feedback records
  for exact evidence. Where records exist for the same run and key (this file or another), the
  records win: the file skips the aggregate, and the analyzer's query drops aggregates that have
  individual scores beside them.
Row key: the run id; ("feedback", id) for a feedback record, ("feedback_stats", run id, key) for an
aggregate. A later post/patch or export replaces the earlier one. No replace_scope (exports are
filtered slices).
Quirks:
- ``prompt_tokens``/``total_tokens``/``total_cost`` and ``usage_metadata`` on chain runs are rolled
  up by the backend from child runs (langsmith-sdk PR #3119; docs/sources.md). The
  rule is `costlab.ingest.util.usage_tree`: any run with an llm/embedding descendant carrying usage
  is ``usage_scope='rollup'`` (a chain whose total copies one child, a LangChain llm run over a
  ChatModel run, a Vercel ``ai.generateText`` llm run over ``doGenerate``: PR #1825), whatever its
  numbers equal; a run with usage and no such descendant is ``self`` (a chain exported without its
  llm runs is ``self`` but never a call: it is no llm run). An llm run without usage is estimated
  only when it is the call (not under an llm run reporting usage, not over one). Trees are per
  file: export a trace's runs together.
- JS SDK times are epoch milliseconds, Python's ISO with microseconds; a run without
  ``start_time`` takes it from its ``dotted_order`` segment (``%Y%m%dT%H%M%S%fZ`` + run id).
- JS patch bodies carry no ``id`` (it is in the URL): the id is the tail of ``dotted_order``.
- A patch without its post (another file) has no ``run_type``: ``ls_model_type``/``ls_provider``
  metadata mark it ``llm``; post and patch merge only within one file.
- Streaming without ``stream_options.include_usage`` returns no usage (``*_stream_no_usage``):
  the prompt is counted with `costlab.tokens` (``usage_source='estimated'``); with no prompt the
  tokens stay NULL (``missing``), never 0.
- A cache breakdown larger than the input total means the provider reported input exclusive of
  cache (Anthropic): the parts are added (defensive check).
- Feedback without a number (a categorical or freeform ``value``, a ``correction``) is skipped
  without quarantine; feedback with no ``trace_id`` whose run is not in the file has nothing to
  attach to and is quarantined (export it with its runs, or with ``trace_id``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import tool_schemas
from costlab.ingest import trace_json as tj
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source

_KIND = {"llm": "llm", "embedding": "embedding", "tool": "tool", "retriever": "retrieval"}
_KIND |= {"chain": "chain", "prompt": "other", "parser": "other"}
_SEGMENT = re.compile(r"^(\d{8}T\d{12}Z)(.+)$")
_OPS = {"post": "post", "create": "post", "patch": "patch", "update": "patch"}
_STATUS = {"success": "ok", "error": "error", "pending": "unset"}


def _is_feedback(d: Any) -> bool:
    """A LangSmith feedback record (schemas.Feedback)."""
    return tj.has_shape(
        d, {"id", "key"}, {"run_type", "type"}, {"run_id", "trace_id"}, {"score", "value", "feedback_source"}
    )


def _number(value: Any) -> Decimal | None:
    """A feedback score as a number: bool -> 0/1, numbers as they are, anything else None."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, (int, float, Decimal)):
        return u.dec(value)
    return None


def _is_run(d: Any) -> bool:
    if not isinstance(d, dict) or "resourceSpans" in d or "type" in d and "run_type" not in d:
        return False
    if "run_type" in d:
        return bool({"id", "trace_id", "dotted_order"} & d.keys())
    return "dotted_order" in d and bool({"outputs", "end_time", "id"} & d.keys())


def _ops(value: Any) -> Iterator[Any]:
    """Run payloads in merge order: batch bodies, pages, operation lists, runs and child runs."""
    if isinstance(value, list):
        for item in value:
            yield from _ops(item)
    elif isinstance(value, dict) and ({"post", "patch"} & value.keys()) and not _is_run(value):
        for key in ("post", "patch"):
            items = value.get(key) or []
            yield from _ops(items if isinstance(items, list) else [items])
    elif isinstance(value, dict) and isinstance(value.get("runs"), list):
        yield from _ops(value["runs"])
    elif isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _OPS:
        yield from _ops(next(iter(value.values())))
    elif isinstance(value, dict) and str(tj.first_of(value, "operation", "action")).lower() in _OPS:
        yield from _ops(tj.first_of(value, "run", "item", "body", "data"))
    elif _is_run(value):
        children = value.get("child_runs")
        yield {k: v for k, v in value.items() if k != "child_runs"}
        if isinstance(children, list):
            yield from _ops(children)
    else:
        yield value


def _segments(run: dict[str, Any]) -> list[tuple[str, str]]:
    """``dotted_order`` as [(timestamp, run id)] from the root down to this run."""
    out = []
    for seg in str(run.get("dotted_order") or "").split("."):
        m = _SEGMENT.match(seg)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def _run_id(op: dict[str, Any]) -> str | None:
    segs = _segments(op)
    return u.nullish(op.get("id")) or (segs[-1][1] if segs else None)


def _merge(run: dict[str, Any], op: dict[str, Any]) -> None:
    for k, v in op.items():
        if v is None or v == {} and run.get(k):
            continue
        if k == "extra" and isinstance(v, dict) and isinstance(run.get(k), dict):
            merged = {**run[k], **v}
            for sub in ("metadata", "invocation_params"):
                if isinstance(run[k].get(sub), dict) and isinstance(v.get(sub), dict):
                    merged[sub] = {**run[k][sub], **v[sub]}
            run[k] = merged
        else:
            run[k] = v


def _d(value: Any) -> dict[str, Any]:
    value = tj.json_or_text(value)
    return value if isinstance(value, dict) else {}


def _int(d: dict[str, Any], key: str) -> int | None:
    return u.integer(d.get(key)) if not isinstance(d.get(key), (dict, list)) else None


def _cols(
    inp: int | None,
    out: int | None,
    read: int | None = None,
    write: int | None = None,
    w5: int | None = None,
    w1: int | None = None,
    reasoning: int | None = None,
    exclusive: bool = False,
) -> dict[str, Any] | None:
    """Canonical token columns; ``exclusive`` input (or a cache breakdown larger than the input,
    which can only mean the same) gets the cache parts added."""
    if inp is not None and (exclusive or (read or 0) + (write or 0) > inp):
        inp += (read or 0) + (write or 0)
    if inp is None and out is None:
        return None
    if write is None and (w5 is not None or w1 is not None):
        write = (w5 or 0) + (w1 or 0)
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "cache_write_5m_tokens": w5,
        "cache_write_1h_tokens": w1,
        "reasoning_tokens": reasoning,
    }


def _at(d: dict[str, Any], path: str) -> int | None:
    """The count at ``field`` or ``object.field`` (None for an empty path or a missing field)."""
    obj, _, key = path.rpartition(".")
    return _int(_d(d.get(obj)) if obj else d, key) if key else None


def _read(
    d: dict[str, Any],
    inp: str,
    out: str,
    *,
    read: str = "",
    write: str = "",
    w5: str = "",
    w1: str = "",
    reasoning: str = "",
    exclusive: bool = False,
) -> dict[str, Any] | None:
    """`_cols` of the counts at these paths of a usage object."""
    return _cols(_at(d, inp), _at(d, out), _at(d, read), _at(d, write), _at(d, w5), _at(d, w1),
                 _at(d, reasoning), exclusive)  # fmt: skip


def _from_usage_metadata(um: dict[str, Any]) -> dict[str, Any] | None:
    details = "input_token_details."
    return _read(um, "input_tokens", "output_tokens", read=details + "cache_read",
                 write=details + "cache_creation", w5=details + "ephemeral_5m_input_tokens",
                 w1=details + "ephemeral_1h_input_tokens", reasoning="output_token_details.reasoning")  # fmt: skip


def _from_provider(d: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI chat/Responses or Anthropic usage objects as returned by the provider."""
    if "prompt_tokens" in d or "completion_tokens" in d:  # OpenAI chat: prompt is inclusive
        return _read(d, "prompt_tokens", "completion_tokens", read="prompt_tokens_details.cached_tokens",
                     write="cache_creation_input_tokens",
                     reasoning="completion_tokens_details.reasoning_tokens")  # fmt: skip
    if {"cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation"} & d.keys():
        split = "cache_creation."  # Anthropic: input_tokens excludes the cache parts
        return _read(d, "input_tokens", "output_tokens", read="cache_read_input_tokens",
                     write="cache_creation_input_tokens", w5=split + "ephemeral_5m_input_tokens",
                     w1=split + "ephemeral_1h_input_tokens", exclusive=True)  # fmt: skip
    if "input_tokens" in d or "output_tokens" in d:  # OpenAI Responses: inclusive
        return _read(d, "input_tokens", "output_tokens", read="input_tokens_details.cached_tokens",
                     reasoning="output_tokens_details.reasoning_tokens")  # fmt: skip
    return None


def _generations(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    gens = outputs.get("generations")
    flat = (
        [g for b in gens for g in (b if isinstance(b, list) else [b])]
        if isinstance(gens, list)
        else []
    )
    return [g for g in flat if isinstance(g, dict)]


def _message_kwargs(gen: dict[str, Any]) -> dict[str, Any]:
    msg = _d(gen.get("message"))
    return _d(msg.get("kwargs")) or msg


def _usage(run: dict[str, Any]) -> tuple[dict[str, Any] | None, Decimal | None]:
    """Token columns and reported cost of a merged run."""
    outputs = _d(run.get("outputs"))
    um = _d(outputs.get("usage_metadata"))
    cost = u.money(tj.first_of(um, "total_cost")) if um else None
    cols = _from_usage_metadata(um) if um else None
    llm_output = _d(outputs.get("llm_output"))
    for cand in (
        _d(llm_output.get("token_usage")),
        _d(llm_output.get("usage")),
        _d(outputs.get("usage")),
    ):
        if cols is None and cand:
            cols = _from_provider(cand)
    if cols is None:
        per_gen = [_d(_message_kwargs(g).get("usage_metadata")) for g in _generations(outputs)]
        found = [c for um_ in per_gen if (c := _from_usage_metadata(um_))]
        if found:
            cols = {k: _sum(c.get(k) for c in found) for k in found[0]}
    if cols is None and (
        run.get("prompt_tokens") is not None or run.get("completion_tokens") is not None
    ):
        ptd, ctd = _d(run.get("prompt_token_details")), _d(run.get("completion_token_details"))
        um2 = {
            "input_tokens": run.get("prompt_tokens"),
            "output_tokens": run.get("completion_tokens"),
        }
        cols = _from_usage_metadata(
            {**um2, "input_token_details": ptd, "output_token_details": ctd}
        )
    if cost is None:
        cost = u.money(run.get("total_cost"))
        if cost is None and (
            run.get("prompt_cost") is not None or run.get("completion_cost") is not None
        ):
            cost = (u.money(run.get("prompt_cost")) or Decimal(0)) + (
                u.money(run.get("completion_cost")) or Decimal(0)
            )
    return cols, cost


def _sum(values: Any) -> int | None:
    vals = [v for v in values if v is not None]
    return sum(vals) if vals else None


def _request_id(
    outputs: dict[str, Any], resp_md: dict[str, Any], gen: dict[str, Any]
) -> str | None:
    """The provider's response id; LangChain's own ``run-...`` message ids are not one."""
    for value in (outputs.get("id"), resp_md.get("id"), gen.get("id")):
        text = u.nullish(value) if isinstance(value, str) else None
        if text and not text.startswith(("run-", "lc_run")):
            return text
    return None


def _start(run: dict[str, Any]) -> datetime | None:
    start = u.ts(run.get("start_time"))
    segs = _segments(run)
    if start is None and segs:
        start = datetime.strptime(segs[-1][0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    return start


@register_source
class LangSmithRuns(Source):
    name = "langsmith"
    title = "LangSmith runs (SDK post/patch payloads, list_runs / runs-query exports)"
    tables = ("spans",)
    row_key = "run id (a later post/patch or export of the run replaces the earlier one)"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind not in ("json", "jsonl"):
            return False
        first = next(_ops(sniff.first_object), None)
        return _is_run(first) or _is_feedback(first)

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        if Sniff(path).kind == "jsonl":
            values: Iterator[tuple[int, Any]] = tj.document_lines(path)
        else:
            values = iter([(0, u.json_document(path))])
        runs: dict[str, dict[str, Any]] = {}
        first: dict[str, int] = {}
        feedback: list[tuple[int, dict[str, Any]]] = []
        n = 0
        for line, value in values:
            if isinstance(value, Exception):
                yield Bad(str(line), f"unreadable line: {value}")
                continue
            for op in _ops(value):
                n += 1
                loc = line or n
                if _is_feedback(op):
                    feedback.append((loc, op))
                    continue
                rid = _run_id(op) if _is_run(op) else None
                if rid is None:
                    yield Bad(
                        str(loc), "not a LangSmith run (no id or dotted_order)", u.raw_text(op)
                    )
                    continue
                first.setdefault(rid, loc)
                _merge(runs.setdefault(rid, {"id": rid}), op)
        if n and not runs and not feedback:
            raise SourceError(str(path), "no LangSmith runs or feedback found")
        parents = {rid: self._parent(r) for rid, r in runs.items()}
        built: dict[str, dict[str, Any] | Bad] = {}
        for rid, run in runs.items():
            built[rid] = mapped(
                first[rid], run, self._row, rid, run, runs, parents, ctx, first[rid], reason="bad run: "
            )
        self._settle({rid: r for rid, r in built.items() if isinstance(r, dict)}, parents)
        done: dict[str, dict[str, Any]] = {}
        recorded = {
            (str(f.get("run_id")), str(f.get("key"))) for _, f in feedback if f.get("run_id")
        }
        for rid, run in runs.items():
            row = built[rid]
            if isinstance(row, Bad):
                yield row
                continue
            done[rid] = row
            yield "spans", row
            stats = mapped(
                first[rid],
                run.get("feedback_stats"),
                self._stats_rows,
                rid,
                run,
                row,
                recorded,
                reason=f"bad feedback_stats of run {rid}: ",
            )
            if isinstance(stats, Bad):
                yield stats
                continue
            for r in stats:
                yield "spans", r
        for loc, fb in feedback:
            got_fb = mapped(loc, fb, self._feedback_row, fb, done, ctx, loc, reason="bad feedback: ")
            if isinstance(got_fb, Bad):
                yield got_fb
            elif got_fb is not None:
                yield "spans", got_fb

    @staticmethod
    def _parent(run: dict[str, Any]) -> str | None:
        parent = u.nullish(run.get("parent_run_id"))
        segs = _segments(run)
        return parent or (segs[-2][1] if len(segs) > 1 else None)

    @staticmethod
    def _settle(rows: dict[str, dict[str, Any]], parents: dict[str, str | None]) -> None:
        """usage_scope by the `costlab.ingest.util.usage_tree` rule; an estimate that is not a call
        (a run under an llm run reporting its usage, or over one that is a call) is dropped."""
        is_call = {rid: r["span_kind"] in ("llm", "embedding") for rid, r in rows.items()}
        calls = [rid for rid, r in rows.items() if is_call[rid] and r["usage_source"] == "reported"]
        guesses = [rid for rid, r in rows.items() if r["usage_source"] == "estimated"]
        tree = u.usage_tree(parents, calls, guesses)
        for rid in guesses:
            if rid not in tree.estimated:
                row = rows[rid]
                row.update(input_tokens=None, output_tokens=None)
                row["usage_source"] = u.absent_usage_source(rid, True, tree)
        for rid, row in rows.items():
            if row["usage_source"] == "missing":
                row["usage_source"] = u.absent_usage_source(rid, is_call[rid], tree)
            has = row["usage_source"] in ("reported", "estimated")
            row["usage_scope"] = u.usage_scope(rid, has, tree)

    def _row(
        self,
        rid: str,
        run: dict[str, Any],
        runs: dict[str, dict[str, Any]],
        parents: dict[str, str | None],
        ctx: ParseContext,
        loc: int,
    ) -> dict[str, Any]:
        """The run's span; usage_scope and estimates are settled over the tree (`_settle`)."""
        got = _usage(run)
        start = _start(run)
        if start is None:
            raise ValueError("run has no start_time")
        segs = _segments(run)
        trace_id = u.nullish(run.get("trace_id")) or (segs[0][1] if segs else rid)
        extra = _d(run.get("extra"))
        md, inv = _d(extra.get("metadata")), _d(extra.get("invocation_params"))
        outputs, inputs = _d(run.get("outputs")), _d(run.get("inputs"))
        run_type = u.nullish(run.get("run_type"))
        if run_type is None and (md.get("ls_model_type") or md.get("ls_provider")):
            run_type = "llm"  # a patch body alone (its post in another file) has no run_type
        kind = _KIND.get(str(run_type or "").lower(), "other")
        is_llm = kind in ("llm", "embedding")
        gen = _message_kwargs(_generations(outputs)[0]) if _generations(outputs) else {}
        resp_md = _d(gen.get("response_metadata")) or _d(outputs.get("response_metadata"))
        llm_output = _d(outputs.get("llm_output"))
        raw_model = tj.first_of(outputs, "model") or tj.first_of(llm_output, "model_name", "model")
        raw_model = raw_model or tj.first_of(resp_md, "model_name", "model")
        raw_request = tj.first_of(inv, "model", "model_name") or tj.first_of(md, "ls_model_name")
        raw_request = raw_request or inputs.get("model")
        lc_type = str(inv.get("_type") or "").split("-")[0] or None  # "openai-chat" -> openai
        provider = tj.provider(tj.first_of(md, "ls_provider") or lc_type, raw_model or raw_request)
        model = tj.model(provider, raw_model or raw_request, ctx)
        cols, cost = got
        root, seen = rid, {rid}
        while (up := parents.get(root)) in runs and up not in seen:
            root = up  # type: ignore[assignment]
            seen.add(root)
        root_md = _d(_d(runs[root].get("extra")).get("metadata"))
        workflow = None
        for key in tj.workflow_keys(ctx, tj.GENAI_WORKFLOW_KEYS):
            workflow = workflow or u.nullish(md.get(key)) or u.nullish(root_md.get(key))
        status = _STATUS.get(str(run.get("status") or "").lower())
        status = status or (
            "error" if run.get("error") else "ok" if run.get("end_time") else "unset"
        )
        row: dict[str, Any] = {
            "trace_id": trace_id,
            "span_id": rid,
            "parent_span_id": parents.get(rid),
            "workflow": workflow or u.nullish(runs[root].get("name")),
            "step": u.nullish(run.get("name")),
            "session_id": u.nullish(tj.first_of(md, "thread_id", "session_id", "conversation_id")),
            "user_id": u.nullish(tj.first_of(md, "user_id", "user")),
            "span_kind": kind,
            "operation": u.nullish(run.get("run_type")),
            "name": u.nullish(run.get("name")),
            "start_time": start,
            "end_time": u.ts(run.get("end_time")),
            "status": status,
            "provider": provider if is_llm or raw_model or raw_request else None,
            "model": model,
            "request_model": tj.model(provider, raw_request, ctx),
            "service_tier": tj.tier(tj.first_of(outputs, "service_tier") or tj.first_of(inv, "service_tier")),
            **(cols or {}),
            "usage_scope": None,
            "usage_source": "reported" if cols else ("missing" if is_llm else None),
            "request_id": _request_id(outputs, resp_md, gen) if is_llm else None,
            "tags": tj.tag_map(run.get("tags")),
            "row_key": u.key(rid),
            "source_line": loc,
        }
        if cost is not None:
            row["reported_cost"], row["reported_cost_currency"] = cost, "USD"
        if is_llm:  # every llm run without usage is estimated here; `_settle` keeps the calls
            est_in, est_out = tj.prompt_features(row, inputs or None, outputs or None, model, ctx, not cols)
            if est_in is not None:
                row.update(input_tokens=est_in, output_tokens=est_out, usage_source="estimated")
        note = {
            "run_type": run.get("run_type"),
            "project": tj.first_of(run, "session_name", "session_id"),
            "model_raw": raw_model,
            "dotted_order": run.get("dotted_order"),
            "metadata": {k: v for k, v in md.items() if str(k).startswith("ls_")},
            "sdk": " ".join(
                str(_d(extra.get("runtime")).get(k) or "") for k in ("sdk", "sdk_version")
            ).strip(),
            "error": str(run["error"])[:300] if run.get("error") else None,
            "first_token_time": run.get("first_token_time"),
            "total_tokens": run.get("total_tokens"),
        }
        if kind == "llm":  # tool schemas (costlab/ingest/tool_schemas.py): request tools, bind_tools
            defs = tool_schemas.from_request(inputs, inv)
            hit = tool_schemas.called(outputs or None) if defs else None
            note |= tool_schemas.summary(defs, model, ctx.keep_text, hit)
        row["attributes"] = tj.dumps({k: v for k, v in note.items() if v not in (None, {}, "")})
        return row

    @staticmethod
    def _eval_row(
        run_row: dict[str, Any] | None, key: str, value: Decimal, source: str | None
    ) -> dict[str, Any]:
        """The columns every feedback span shares (context inherited from the scored run)."""
        ctx_cols = ("workflow", "session_id", "user_id", "tags")
        base = {c: run_row.get(c) for c in ctx_cols} if run_row else {}
        attrs = {
            "gen_ai.evaluation.name": key,
            "gen_ai.evaluation.score.value": float(value),
            "gen_ai.evaluation.source": source,
        }
        return {
            **base,
            "step": f"feedback:{key}",
            "span_kind": "other",
            "operation": "evaluation",
            "name": f"feedback:{key}",
            "status": "ok",
            "usage_scope": "none",
            "usage_source": "missing",
            "_attrs": {k: v for k, v in attrs.items() if v is not None},
        }

    def _stats_rows(
        self, rid: str, run: dict[str, Any], row: dict[str, Any], recorded: set[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """One evaluation span per ``feedback_stats`` key with an average (module doc)."""
        rows = []
        for key, st in _d(run.get("feedback_stats")).items():
            if not isinstance(st, dict) or (rid, str(key)) in recorded:
                continue
            avg, n = _number(st.get("avg")), u.integer(st.get("n"))
            if avg is None or not n:
                continue  # categorical feedback has only ``values``; n 0 is no feedback
            out = self._eval_row(row, str(key), avg, "feedback_stats")
            attrs = out.pop("_attrs")
            note = {"langsmith_type": "feedback_stats", "score_aggregate_n": n}
            stdev = _number(st.get("stdev"))
            note |= {"stdev": float(stdev) if stdev is not None else None, "attributes": attrs}
            out |= {
                "trace_id": row["trace_id"],
                "span_id": f"{rid}:feedback:{key}",
                "parent_span_id": rid,
                "start_time": row.get("end_time") or row["start_time"],
                "row_key": u.key("feedback_stats", rid, key),
                "source_line": row["source_line"],
                "attributes": tj.dumps({k: v for k, v in note.items() if v is not None}),
            }
            rows.append(out)
        return rows

    def _feedback_row(
        self, fb: dict[str, Any], done: dict[str, dict[str, Any]], ctx: ParseContext, loc: int
    ) -> dict[str, Any] | None:
        """An evaluation span for a numeric feedback record; None when it holds no number."""
        value = _number(fb.get("score"))
        if value is None:
            value = _number(fb.get("value"))
        if value is None:
            return None
        fid, key = u.nullish(fb.get("id")), u.nullish(fb.get("key"))
        run_id = u.nullish(fb.get("run_id"))
        run_row = done.get(run_id) if run_id else None
        trace_id = u.nullish(fb.get("trace_id")) or (run_row or {}).get("trace_id")
        start = u.ts(tj.first_of(fb, "created_at", "start_time", "modified_at"))
        if not fid or not key or start is None:
            raise ValueError("feedback needs id, key and created_at")
        if trace_id is None:
            raise ValueError("no trace_id and its run is not in this file; export it with its runs")
        source = u.nullish(_d(fb.get("feedback_source")).get("type"))
        out = self._eval_row(run_row, key, value, source)
        note = {
            "langsmith_type": "feedback",
            "comment": u.nullish(fb.get("comment")) if ctx.keep_text else None,
            "attributes": out.pop("_attrs"),
        }
        out |= {
            "trace_id": trace_id,
            "span_id": fid,
            "parent_span_id": run_id,
            "start_time": start,
            "row_key": u.key("feedback", fid),
            "source_line": loc,
            "attributes": tj.dumps({k: v for k, v in note.items() if v is not None}),
        }
        return out
