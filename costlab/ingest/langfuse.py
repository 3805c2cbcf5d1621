"""Langfuse traces and observations: the UI "download trace" JSON (``{"trace", "observations"}``),
``GET /api/public/traces/{id}`` (a trace with embedded observation objects), observation pages
from ``/api/public/observations`` (v1, ``meta.page``) and ``/v2/observations`` (``meta.cursor``),
trace pages, score pages (``/api/public/v2/scores``), and the batch / blob-storage exports of
observations, traces or scores (JSON, JSONL or CSV; camelCase or snake_case columns, nested values
as JSON text in CSV). Scores also arrive embedded in a trace (``trace.scores``).

Detect: a JSON document, JSONL line or CSV header holding Langfuse observations (``id``,
``traceId``/``trace_id``, ``startTime``/``start_time``, ``type`` in SPAN, GENERATION, EVENT, AGENT,
TOOL, CHAIN, RETRIEVER, EVALUATOR, EMBEDDING, GUARDRAIL) or traces (``id``, ``timestamp``, ``name``
and Langfuse trace fields such as ``sessionId``, ``projectId``, ``htmlPath``, ``bookmarked``) or
scores (``id``, ``name``, ``value``/``stringValue``, ``traceId`` and ``dataType`` or ``source``).
Parse: JSON with ``parse_float=Decimal``; two passes (index, then rows) so rollups and the
workflow name are known before a row is written; only the index is held in memory for JSONL/CSV.
Normalise: one span per observation; GENERATION -> llm, EMBEDDING -> embedding, AGENT -> agent,
TOOL -> tool, CHAIN -> chain, RETRIEVER -> retrieval; SPAN/EVENT are refined by the original OTel
``openinference.span.kind`` / ``gen_ai.operation.name`` / ``langsmith.span.kind`` (else ``other``).
Tokens from ``usageDetails``: Langfuse keys are disjoint (``input`` excludes cache reads and
writes, ``output`` excludes reasoning), so input_tokens = ``input`` + every ``input_*`` key and
output_tokens = ``output`` + every ``output_*`` key. reported_cost = ``costDetails.total`` (else
the sum of its keys, else ``calculatedTotalCost``/``totalCost``), USD, exact. provider and models
come from the original OTel attributes kept in ``metadata`` (JSON text or object), normalised with
`costlab.names`. workflow = a configured attribute (``workflow_attributes``, default
``gen_ai.workflow.name``, ``traceloop.workflow.name``, ``workflow``) or a ``workflow:<name>`` tag >
trace name > root observation name; step = observation name; session/user/tags from the trace,
else the first ``session.id``/``user.id`` among its observations (one trace, one session); status
``error`` for level ERROR; request_id = ``gen_ai.response.id``. A trace record with no observations in the file becomes one ``chain`` span (its ``totalCost`` is
a rollup). Prompt features (hash, per-message tokens, prefix blocks) via `costlab.tokens`; text
only with ``ctx.keep_text``; content-bearing OTel attributes are dropped from ``attributes``.
An llm observation that declares tools (raw OTel attributes, ``input.tools``, ``modelParameters``,
``toolDefinitions``) gets the ``costlab.tools`` summary of `costlab.ingest.tool_schemas`.
Scores (quality signals for the downgrade analyzer): one ``other`` span per NUMERIC or BOOLEAN
score, operation ``evaluation``, name ``score:<name>``, span id = score id, parent =
``observationId`` (NULL for a trace-level score), start = score ``timestamp``, no tokens
(usage_scope ``none``, usage_source ``missing``), workflow/session/user/tags from its trace like
any span; ``attributes.attributes`` holds ``gen_ai.evaluation.name`` / ``.score.value`` (a number,
BOOLEAN as 0/1) / ``.source`` (EVAL, API, ANNOTATION), the keys
queries/analyze/downgrade_scores.sql reads. The judge's ``comment`` is kept only with keep_text.
Row key: (trace id, observation id); a score's is ("score", score id). A re-exported observation or
score replaces the earlier one. No replace_scope: exports are filtered slices, never complete
re-deliveries.
Quirks:
- ``usage_scope`` by `costlab.ingest.util.usage_tree`: an observation is ``rollup`` whenever a
  descendant GENERATION/EMBEDDING carries usage (agno ``OpenAIChat.invoke``, MS Agent Framework
  ``invoke_agent``, an AGENT whose usage copies one child, a GENERATION over a GENERATION;
  docs/sources.md), whatever its numbers equal; else ``self`` if it has usage. No
  usage values are compared. A GENERATION without usage is estimated only when it is the call: not
  under a GENERATION reporting usage (the wrapper is the call; its usage_source stays NULL) and not
  over one. Trees are per file: an observations export split over pages or files keeps a parent
  and its children apart only if the pages are ingested as separate files; concatenate them (JSONL)
  to keep the tree whole.
- Older Langfuse kept raw OpenInference keys (``prompt_details.cache_read``,
  ``completion_details.reasoning``) which are subsets of input/output; ``total`` decides when a
  key family is ambiguous (total = input+output -> subsets; = sum of all -> disjoint).
- Langfuse tokenizes prompts itself when no usage was sent: OTel-ingested observations whose raw
  attributes hold no usage keys (or whose ``providedUsageDetails`` is empty) are ``estimated``.
- Gemini ``total`` includes thinking tokens that OpenInference's vertexai instrumentation leaves
  out of ``completion``: the gap is added to output and reasoning, ``usage_source='derived'``;
  Langfuse's cost was priced without them, so it moves to ``attributes`` (reported_cost NULL).
- The v1 API fills usage/cost with zeros on every observation: zeros on a non-LLM span are no
  usage (NULL), not a measured 0.
- Legacy ``usage`` with a unit other than TOKENS (characters, images, seconds) is not tokens.
- MS Agent Framework writes the previous response id as ``gen_ai.conversation.id``: a
  ``resp_``/``chatcmpl-``/``msg_`` value there is not a session.
- ``trace.observations`` may be a Python-repr string (google-gemini sample): the top-level
  ``observations`` array is used instead.
- An LLM span without usage but with a prompt gets a tokenizer estimate (``estimated``); without a
  prompt it stays NULL (``missing``).
- CATEGORICAL scores (a ``stringValue`` label, no order) are skipped without quarantine: not a
  number to compare. So are scores with no ``traceId`` (session or dataset-run scores): nothing to
  attach them to. A NUMERIC score without a numeric value is quarantined. The 20 scores of the real
  samples are all NUMERIC, trace-level (``observationId`` null), from ``EVAL`` (LLM-as-judge:
  hallucination, toxicity, correctness).
- ``trace.scores`` in the traces *list* API holds score ids (strings), not scores: ignored.

The ``_`` helpers above the Langfuse section are shared with `costlab.ingest.langsmith`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import tool_schemas
from costlab.ingest import trace_json as tj
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source

TYPES = frozenset(
    "SPAN GENERATION EVENT AGENT TOOL CHAIN RETRIEVER EVALUATOR EMBEDDING GUARDRAIL".split()
)
_KIND = {"GENERATION": "llm", "EMBEDDING": "embedding", "AGENT": "agent", "TOOL": "tool"}
_KIND |= {"CHAIN": "chain", "RETRIEVER": "retrieval"}
_REFINE = {"llm": "llm", "chat": "llm", "text_completion": "llm", "generate_content": "llm"}
_REFINE |= {"embedding": "embedding", "embeddings": "embedding", "tool": "tool", "agent": "agent"}
_REFINE |= {"execute_tool": "tool", "invoke_agent": "agent", "create_agent": "agent"}
_REFINE |= {"chain": "chain", "invoke_workflow": "chain", "retriever": "retrieval"}
_REFINE |= {"retrieval": "retrieval", "reranker": "retrieval"}
_TRACE_HINTS = frozenset(
    "sessionid session_id userid user_id htmlpath projectid project_id bookmarked public".split()
)
_OBS_HINTS = frozenset(
    "usagedetails usage_details parentobservationid parent_observation_id costdetails "
    "cost_details modelparameters model_parameters provided_model_name completionstarttime "
    "completion_start_time level".split()
)
_USAGE_ATTR = re.compile(r"usage|token_count|^ai\.usage")
#: raw attributes kept in ``attributes`` without keep_text: ids, models, usage, costs, settings.
#: Everything else may hold prompts, outputs or tool payloads (pydantic-ai ``final_result``).
_KEEP_ATTR = re.compile(
    r"^(gen_ai\.(operation|provider|system$|request\.|response\.(id|model|finish)|usage\.|agent\."
    r"(id|name)|workflow\.|tool\.(name|type|call\.id)|data_source|output\.type|embeddings)|llm\."
    r"(provider|system|model_name|token_count|cost|request\.type|is_streaming|response\.model)|"
    r"openinference\.span\.kind|langsmith\.(span\.kind|trace\.(name|session)|metadata\.ls_)|ls_|"
    r"traceloop\.(span\.kind|workflow\.name|entity\.name)|server\.|operation\.cost|model_name$|"
    r"agent_name$|langfuse\.(observation\.(type|model|usage|cost)|environment|release|version)|"
    r"ai\.(model|usage|settings|telemetry\.functionId)|openai\.|aws\.bedrock\.|error\.type|"
    r"gen_ai\.evaluation\.(name|score\.(value|label)))"
)
_READ = re.compile(r"cache_?read|cached")
_WRITE = re.compile(r"cache_?(creation|write)")
_REASON = re.compile(r"reasoning|thought")
_OUT_SIDE = re.compile(r"output|completion|reasoning|thought|candidates")


# -- helpers shared with the LangSmith source ------------------------------------------------------


def _clean_attrs(attrs: dict[str, Any], keep_text: bool) -> dict[str, Any]:
    """Raw attributes for re-mapping: all with keep_text, else the allowlisted non-content ones."""
    if keep_text:
        return dict(attrs)
    return {
        k: v[:200] if isinstance(v, str) else v
        for k, v in attrs.items()
        if _KEEP_ATTR.search(k) and not isinstance(v, (dict, list))
    }


def _usage_columns(inp: int | None, out: int | None, parts: dict[str, int]) -> dict[str, Any]:
    """Token columns from an inclusive input/output and named breakdown parts."""

    def pick(rx: re.Pattern[str], extra: str = "") -> int | None:
        vals = [v for k, v in parts.items() if rx.search(k) and extra in k]
        return sum(vals) if vals else None

    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": pick(_READ),
        "cache_write_tokens": pick(_WRITE),
        "cache_write_5m_tokens": pick(_WRITE, "5m"),
        "cache_write_1h_tokens": pick(_WRITE, "1h"),
        "reasoning_tokens": pick(_REASON),
    }


# -- Langfuse ------------------------------------------------------------------------------------


def _is_obs(d: Any) -> bool:
    return (
        isinstance(d, dict)
        and "id" in d
        and str(d.get("type", "")).upper() in TYPES
        and ("traceId" in d or "trace_id" in d or "startTime" in d or "start_time" in d)
        and "run_type" not in d
    )


def _is_trace(d: Any) -> bool:
    return (
        isinstance(d, dict)
        and "id" in d
        and "timestamp" in d
        and "name" in d
        and "type" not in d
        and bool({k.lower() for k in d} & _TRACE_HINTS)
        and not _is_score(d)
    )


def _is_score(d: Any) -> bool:
    """A Langfuse score (trace download ``scores``, scores API page, batch export row)."""
    return tj.has_shape(
        d,
        {"id", "name"},
        {"type", "observations"},
        {"value", "stringValue", "string_value"},
        {"traceId", "trace_id"},
        {"dataType", "data_type", "source"},
    )


def _scores(trace: dict[str, Any], scores: Any) -> Iterator[tuple[dict | None, Any]]:
    """(trace, score) for the score objects of a trace (the list API gives ids: skipped)."""
    for sc in scores if isinstance(scores, list) else []:
        if isinstance(sc, dict):
            yield trace, sc


def _units(value: Any, outer: dict[str, Any] | None = None) -> Iterator[tuple[dict | None, Any]]:
    """(enclosing trace, record) for every observation or trace in a document or line."""
    if isinstance(value, list):
        for item in value:
            yield from _units(item, outer)
    elif (
        isinstance(value, dict) and isinstance(value.get("trace"), dict) and "observations" in value
    ):
        yield None, value["trace"]
        for o in value["observations"] if isinstance(value["observations"], list) else []:
            yield value["trace"], o
        yield from _scores(value["trace"], value["trace"].get("scores") or value.get("scores"))
    elif isinstance(value, dict) and isinstance(value.get("data"), list) and "meta" in value:
        yield from _units(value["data"])
    elif _is_trace(value) and isinstance(value.get("observations"), list):
        yield None, value
        for o in value["observations"]:
            if isinstance(o, dict):
                yield value, o
        yield from _scores(value, value.get("scores"))
    else:
        yield outer, value
        if _is_trace(value):
            yield from _scores(value, value.get("scores"))


def _usage(o: dict[str, Any], is_llm: bool, model: str | None) -> tuple[dict[str, Any] | None, str]:
    """Canonical token columns of an observation and how they were obtained."""
    vals: dict[str, int] = {}
    raw = tj.json_or_text(tj.first_of(o, "usageDetails", "usage_details"))
    if isinstance(raw, dict):
        for k, v in raw.items():
            n = u.integer(v) if not isinstance(v, (dict, list)) else None
            if n is not None:
                vals[str(k)] = n
    if raw is None:  # older exports: legacy usage, OpenAI-style or convenience fields
        legacy = tj.json_or_text(o.get("usage"))
        names = [("promptTokens", "completionTokens", "totalTokens")]
        names.append(("inputUsage", "outputUsage", "totalUsage"))
        if isinstance(legacy, dict) and str(legacy.get("unit") or "TOKENS").upper() == "TOKENS":
            names.insert(0, ("input", "output", "total"))
        for group in names:
            src = legacy if group[0] == "input" else o
            got = [u.integer(src.get(n)) for n in group]
            vals = {
                k: n
                for k, n in zip(("input", "output", "total"), got, strict=True)
                if n is not None
            }
            if vals:
                break
        if not any(vals.values()):  # the v1 API fills these with 0 on every observation
            return None, "missing"
    if not vals or (not is_llm and not any(vals.values())):
        return None, "missing"
    inp, out, total = vals.pop("input", None), vals.pop("output", None), vals.pop("total", None)
    own = {k: v for k, v in vals.items() if k.startswith(("input", "output"))}
    other = {k: v for k, v in vals.items() if k not in own}
    if inp is not None or any(k.startswith("input") for k in own):
        inp = (inp or 0) + sum(v for k, v in own.items() if k.startswith("input"))
    if out is not None or any(k.startswith("output") for k in own):
        out = (out or 0) + sum(v for k, v in own.items() if k.startswith("output"))
    o_in = {k: v for k, v in other.items() if not _OUT_SIDE.search(k)}
    o_out = {k: v for k, v in other.items() if _OUT_SIDE.search(k)}
    base, sub = (inp or 0) + (out or 0), sum(other.values())
    if total is not None:
        disjoint = bool(sub) and total == base + sub and total != base
    else:  # raw Anthropic names (cache_read_input_tokens) are disjoint; dotted OTel ones subsets
        disjoint = bool(other) and all("." not in k and "details" not in k for k in other)
    disjoint = disjoint or any(v > (inp or 0) for v in o_in.values())
    if disjoint:
        inp = (inp or 0) + sum(o_in.values()) if o_in or inp is not None else None
        out = (out or 0) + sum(o_out.values()) if o_out or out is not None else None
    parts = {**own, **other}
    source = "reported"
    if total is not None and inp is not None and out is not None and total > inp + out:
        if model and "gemini" in model.lower():  # thoughts sit in total, not in completion
            gap = total - inp - out
            out += gap
            parts["derived_reasoning"] = parts.get("derived_reasoning", 0) + gap
            source = "derived"
    if inp is None and out is None:
        return None, "missing"
    return _usage_columns(inp, out, parts), source


_RESPONSE_ID = re.compile(r"^(resp_|chatcmpl-|msg_)")


def _session(o: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    """An observation's session: its own field, else OTel session attributes. A
    ``gen_ai.conversation.id`` that is a provider response id (MS Agent Framework chains
    ``previous_response_id`` there) changes on every call and is not a session."""
    conv = u.nullish(attrs.get("gen_ai.conversation.id"))
    return (
        u.nullish(tj.first_of(o, "sessionId", "session_id"))
        or u.nullish(tj.first_of(attrs, "session.id", "langfuse.session.id"))
        or (conv if conv and not _RESPONSE_ID.match(conv) else None)
    )


def _user(o: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    return u.nullish(tj.first_of(o, "userId", "user_id")) or u.nullish(
        tj.first_of(attrs, "user.id", "langfuse.user.id")
    )


def _inferred(o: dict[str, Any], meta: dict[str, Any]) -> bool:
    """True when Langfuse tokenized the prompt itself (no usage was ingested)."""
    provided = tj.json_or_text(tj.first_of(o, "providedUsageDetails", "provided_usage_details"))
    if isinstance(provided, dict):
        return not provided
    attrs, scope = meta.get("attributes"), meta.get("scope")
    scope_name = scope.get("name") if isinstance(scope, dict) else None
    if isinstance(attrs, dict) and attrs and scope_name != "langfuse-sdk":
        return not any(_USAGE_ATTR.search(k) for k in attrs)
    return False


def _cost(o: dict[str, Any], has_usage: bool) -> Decimal | None:
    details = tj.json_or_text(tj.first_of(o, "costDetails", "cost_details"))
    cost = None
    if isinstance(details, dict) and details:
        if details.get("total") is not None:
            cost = u.money(details["total"])
        else:
            vals = [u.money(v) for v in details.values() if v is not None]
            cost = sum((v for v in vals if v is not None), Decimal(0))
    if cost is None:
        cost = u.money(tj.first_of(o, "calculatedTotalCost", "totalCost", "total_cost"))
    if cost is not None and cost == 0 and not has_usage:
        return None  # the v1 API's zero filler, not a price
    return cost


def _meta(value: Any) -> dict[str, Any]:
    meta = tj.json_or_text(value)
    return meta if isinstance(meta, dict) else {}


class _Index:
    """Pass one: the observation tree, the spans with usage and each trace's context."""

    def __init__(self) -> None:
        self.parents: dict[tuple[str, str], tuple[str, str] | None] = {}
        self.calls: set[tuple[str, str]] = set()  # llm/embedding observations with usage
        self.estimable: set[tuple[str, str]] = set()  # llm/embedding without usage, with a prompt
        self.traces: dict[str, dict[str, Any]] = {}
        self.root_name: dict[str, tuple[str, str]] = {}
        self.explicit: dict[str, str] = {}
        self.obs_traces: set[str] = set()
        self.session: dict[str, str] = {}
        self.user: dict[str, str] = {}


@register_source
class LangfuseExport(Source):
    name = "langfuse"
    title = "Langfuse traces and observations (trace JSON, API pages, batch export JSON/JSONL/CSV)"
    tables = ("spans",)
    row_key = "trace id, observation id (a re-exported observation replaces the earlier one)"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind == "csv":
            cols = sniff.column_set
            obs = {"id", "type"} <= cols and bool({"traceid", "trace_id"} & cols)
            if obs and ({"starttime", "start_time"} & cols) and (_OBS_HINTS & cols):
                return True
            score = {"id", "name", "value"} <= cols and bool({"traceid", "trace_id"} & cols)
            if score and {"datatype", "data_type", "source"} & cols and "type" not in cols:
                return True
            return {"id", "timestamp", "name"} <= cols and len(_TRACE_HINTS & cols) >= 2
        if sniff.kind not in ("json", "jsonl"):
            return False
        first = next(iter(_units(sniff.first_object)), (None, None))[1]
        return _is_obs(first) or _is_trace(first) or _is_score(first)

    @staticmethod
    def _source(path: Path) -> Callable[[], Iterator[tuple[int, Any]]]:
        """A re-readable ``(location, value)`` stream: CSV/JSONL lines, or one JSON document's
        records numbered from 1."""
        kind = Sniff(path).kind
        if kind == "csv":

            def rows() -> Iterator[tuple[int, Any]]:
                for line, row in u.csv_rows(path):
                    yield line, row if isinstance(row, dict) else ValueError(row)

            return rows
        if kind == "jsonl":
            return lambda: tj.document_lines(path)
        doc = u.json_document(path)
        return lambda: ((n, rec) for n, rec in enumerate(_units(doc), 1))

    @staticmethod
    def _records(read: Callable[[], Iterator[tuple[int, Any]]]) -> Iterator[tuple[int, Any, Any]]:
        """(location, enclosing trace, record) for every record of the file."""
        for loc, value in read():
            if isinstance(value, tuple):  # already split by _units (JSON document)
                yield loc, value[0], value[1]
            elif isinstance(value, Exception):
                yield loc, None, value
            else:
                for outer, rec in _units(value):
                    yield loc, outer, rec

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        read = self._source(path)
        idx, seen, known = _Index(), 0, 0
        wf_keys = tj.workflow_keys(ctx, tj.GENAI_WORKFLOW_KEYS)
        for _, outer, rec in self._records(read):
            seen += 1
            if _is_trace(rec) and outer is None:
                known += 1
                idx.traces[str(rec["id"])] = rec
                self._explicit(
                    idx, str(rec["id"]), _meta(rec.get("metadata")), rec.get("tags"), wf_keys
                )
            elif _is_obs(rec):
                known += 1
                try:
                    self._index(idx, rec, outer, wf_keys)
                except ValueError:
                    continue  # reported as Bad in pass two
            elif _is_score(rec):
                known += 1
        if seen and not known:
            raise SourceError(str(path), "no Langfuse traces, observations or scores found")
        tree = u.usage_tree(idx.parents, idx.calls, idx.estimable)
        for loc, outer, rec in self._records(read):
            if isinstance(rec, Exception):
                yield Bad(str(loc), f"unreadable record: {rec}")
            elif _is_obs(rec):
                row = mapped(loc, rec, self._row, rec, outer, idx, tree, ctx, loc, reason="bad observation: ")
                yield row if isinstance(row, Bad) else ("spans", row)
            elif _is_score(rec):
                score = mapped(loc, rec, self._score_row, rec, outer, idx, ctx, loc, reason="bad score: ")
                if isinstance(score, Bad):
                    yield score
                elif score is not None:
                    yield "spans", score
            elif _is_trace(rec) and outer is None:
                if str(rec["id"]) not in idx.obs_traces:
                    row = mapped(loc, rec, self._trace_row, rec, idx, ctx, loc, reason="bad trace: ")
                    yield row if isinstance(row, Bad) else ("spans", row)
            else:
                yield Bad(str(loc), "not a Langfuse observation, trace or score", u.raw_text(rec))

    @staticmethod
    def _explicit(
        idx: _Index, tid: str, meta: dict[str, Any], tags: Any, keys: tuple[str, ...]
    ) -> None:
        if tid in idx.explicit:
            return
        attrs = tj.object_field(meta)
        for k in keys:
            v = u.nullish(tj.first_of(attrs, k) if attrs else None) or u.nullish(meta.get(k))
            if v and not isinstance(meta.get(k), (dict, list)):
                idx.explicit[tid] = v
                return
        for t in tj.json_or_text(tags) if isinstance(tj.json_or_text(tags), list) else []:
            if isinstance(t, str) and t.lower().startswith("workflow:") and t[9:].strip():
                idx.explicit[tid] = t[9:].strip()
                return

    def _index(
        self, idx: _Index, o: dict[str, Any], outer: dict | None, keys: tuple[str, ...]
    ) -> None:
        tid = str(tj.first_of(o, "traceId", "trace_id") or (outer or {}).get("id"))
        oid, parent = (
            str(o["id"]),
            u.nullish(tj.first_of(o, "parentObservationId", "parent_observation_id")),
        )
        idx.obs_traces.add(tid)
        idx.parents[(tid, oid)] = (tid, parent) if parent else None
        kind = self._kind(o, _meta(o.get("metadata")))
        if kind in ("llm", "embedding"):
            if _usage(o, True, None)[0] is not None:
                idx.calls.add((tid, oid))
            elif tj.messages(o.get("input")):
                idx.estimable.add((tid, oid))
        start = str(tj.first_of(o, "startTime", "start_time") or "")
        if not parent and start:
            if tid not in idx.root_name or start < idx.root_name[tid][0]:
                idx.root_name[tid] = (start, str(o.get("name") or ""))
        meta = _meta(o.get("metadata"))
        self._explicit(idx, tid, meta, o.get("traceTags"), keys)
        session, user = _session(o, tj.object_field(meta)), _user(o, tj.object_field(meta))
        if session:
            idx.session.setdefault(tid, session)
        if user:
            idx.user.setdefault(tid, user)

    @staticmethod
    def _kind(o: dict[str, Any], meta: dict[str, Any]) -> str:
        typ = str(o.get("type", "")).upper()
        if typ in _KIND:
            return _KIND[typ]
        attrs = tj.object_field(meta)
        for key in ("openinference.span.kind", "gen_ai.operation.name", "langsmith.span.kind"):
            v = str(attrs.get(key) or "").lower()
            if v in _REFINE:
                return _REFINE[v]
        return "other"

    def _row(
        self,
        o: dict[str, Any],
        outer: dict[str, Any] | None,
        idx: _Index,
        tree: u.UsageTree,
        ctx: ParseContext,
        loc: int,
    ) -> dict[str, Any]:
        tid = u.nullish(tj.first_of(o, "traceId", "trace_id") or (outer or {}).get("id"))
        oid = u.nullish(o.get("id"))
        start = u.ts(tj.first_of(o, "startTime", "start_time"))
        if not tid or not oid or start is None:
            raise ValueError("observation needs id, traceId and startTime")
        trace = outer or idx.traces.get(tid) or {}
        meta = _meta(o.get("metadata"))
        attrs = tj.object_field(meta)
        look = {**meta, **attrs}
        kind = self._kind(o, meta)
        params = tj.json_or_text(tj.first_of(o, "modelParameters", "model_parameters"))
        params = params if isinstance(params, dict) else {}
        raw_model = tj.first_of(o, "model", "providedModelName", "provided_model_name") or tj.first_of(
            look, "gen_ai.response.model", "llm.response.model_name", "llm.model_name"
        )
        provider = tj.provider(
            tj.first_of(look, "gen_ai.provider.name", "llm.provider", "gen_ai.system", "llm.system")
            or tj.first_of(look, "ls_provider", "langsmith.metadata.ls_provider", "ai.model.provider"),
            raw_model,
        )
        raw_request = (
            tj.first_of(look, "gen_ai.request.model", "llm.request.model_name")
            or tj.first_of(params, "model")
            or tj.first_of(look, "ls_model_name", "langsmith.metadata.ls_model_name")
        )
        model = tj.model(provider, raw_model or raw_request, ctx)
        is_llm = kind in ("llm", "embedding")
        usage, source = _usage(o, is_llm, model)
        if usage is not None and source == "reported" and _inferred(o, meta):
            source = "estimated"
        key = (tid, oid)
        scope = u.usage_scope(key, usage is not None, tree)
        level = str(o.get("level") or "").upper()
        row: dict[str, Any] = {
            "trace_id": tid,
            "span_id": oid,
            "parent_span_id": u.nullish(tj.first_of(o, "parentObservationId", "parent_observation_id")),
            "workflow": self._workflow(idx, tid, trace, o, attrs, ctx),
            "step": u.nullish(o.get("name")),
            "session_id": u.nullish(tj.first_of(trace, "sessionId", "session_id")) or idx.session.get(tid),
            "user_id": u.nullish(tj.first_of(trace, "userId", "user_id")) or idx.user.get(tid),
            "span_kind": kind,
            "operation": u.nullish(attrs.get("gen_ai.operation.name"))
            or str(o.get("type")).lower(),
            "name": u.nullish(o.get("name")),
            "start_time": start,
            "end_time": u.ts(tj.first_of(o, "endTime", "end_time")),
            "status": "error" if level == "ERROR" else "ok",
            "provider": provider if is_llm or raw_model or raw_request else None,
            "model": model,
            "request_model": tj.model(provider, raw_request, ctx),
            "service_tier": tj.tier(
                tj.first_of(look, "openai.response.service_tier", "gen_ai.openai.response.service_tier")
                or tj.first_of(look, "openai.request.service_tier", "gen_ai.openai.request.service_tier")
            ),
            **(usage or {}),
            "usage_scope": scope,
            "usage_source": source if usage else u.absent_usage_source(key, is_llm, tree),
            "request_id": u.nullish(
                tj.first_of(look, "gen_ai.response.id", "llm.response.id", "response_id")
            ),
            "tags": tj.tag_map(trace.get("tags") if trace else o.get("traceTags")),
            "row_key": u.key(tid, oid),
            "source_line": loc,
        }
        cost = _cost(o, usage is not None)
        if cost is not None and source != "derived":
            row["reported_cost"], row["reported_cost_currency"] = cost, "USD"
        if is_llm:
            need = key in tree.estimated
            est_in, est_out = tj.prompt_features(row, o.get("input"), o.get("output"), model, ctx, need)
            if est_in is not None:
                row.update(input_tokens=est_in, output_tokens=est_out)
                row.update(usage_scope="self", usage_source="estimated")
        note = {
            "langfuse_type": o.get("type"),
            "model_raw": raw_model,
            "level": o.get("level"),
            "status_message": u.nullish(tj.first_of(o, "statusMessage", "status_message")),
            "environment": o.get("environment") or trace.get("environment"),
            "usage_details": tj.json_or_text(tj.first_of(o, "usageDetails", "usage_details")),
            "cost_details": tj.json_or_text(tj.first_of(o, "costDetails", "cost_details")),
            "langfuse_cost_excluded": cost if source == "derived" else None,
            "scope": (meta.get("scope") or {}).get("name")
            if isinstance(meta.get("scope"), dict)
            else None,
            "otel": _clean_attrs(attrs, ctx.keep_text) or None,
        }
        if kind == "llm":
            note |= self._tools(o, attrs, params, model, ctx)
        row["attributes"] = tj.dumps({k: v for k, v in note.items() if v not in (None, {}, "")})
        return row

    @staticmethod
    def _tools(
        o: dict[str, Any], attrs: dict[str, Any], params: dict[str, Any], model: str | None,
        ctx: ParseContext,
    ) -> dict[str, Any]:
        """``costlab.tools`` (costlab/ingest/tool_schemas.py): the raw OTel attributes first (full
        schemas), then the request body or model parameters, then Langfuse's ``toolDefinitions``."""
        defs = (
            tool_schemas.definitions(attrs)
            or tool_schemas.from_request(o.get("input"), params)
            or tool_schemas.from_langfuse(tj.first_of(o, "toolDefinitions", "tool_definitions"))
        )
        if not defs:
            return {}
        seen = tool_schemas.called(
            o.get("output"), tj.first_of(o, "toolCalls", "tool_calls"),
            tj.first_of(o, "toolCallNames", "tool_call_names"),
        )  # fmt: skip
        return tool_schemas.summary(defs, model, ctx.keep_text, seen)

    @staticmethod
    def _workflow(
        idx: _Index, tid: str, trace: dict, o: dict, attrs: dict, ctx: ParseContext
    ) -> str | None:
        for k in tj.workflow_keys(ctx, tj.GENAI_WORKFLOW_KEYS):
            if u.nullish(attrs.get(k)):
                return u.nullish(attrs.get(k))
        return (
            idx.explicit.get(tid)
            or u.nullish(trace.get("name") if trace else None)
            or u.nullish(tj.first_of(o, "traceName", "trace_name"))
            or u.nullish(idx.root_name.get(tid, ("", ""))[1])
        )

    def _score_row(
        self, sc: dict[str, Any], outer: dict | None, idx: _Index, ctx: ParseContext, loc: int
    ) -> dict[str, Any] | None:
        """An evaluation span for a NUMERIC/BOOLEAN score; None for scores that are not numbers
        or belong to no trace (module doc)."""
        dtype = str(tj.first_of(sc, "dataType", "data_type") or "").upper()
        label = u.nullish(tj.first_of(sc, "stringValue", "string_value"))
        raw = sc.get("value")
        if dtype not in ("", "NUMERIC", "BOOLEAN") or (not dtype and raw is None and label):
            return None  # CATEGORICAL (or a newer non-numeric type): no order to compare
        tid = u.nullish(tj.first_of(sc, "traceId", "trace_id") or (outer or {}).get("id"))
        if tid is None:
            return None  # a session or dataset-run score: no call to credit it to
        sid, name = u.nullish(sc.get("id")), u.nullish(sc.get("name"))
        start = u.ts(tj.first_of(sc, "timestamp", "createdAt", "created_at"))
        if not sid or not name or start is None:
            raise ValueError("score needs id, name and timestamp")
        value: Decimal | None
        if isinstance(raw, bool):
            value = Decimal(int(raw))
        elif raw is None and dtype == "BOOLEAN" and label and label.lower() in ("true", "false"):
            value = Decimal(label.lower() == "true")
        else:
            value = u.dec(raw)
        if value is None:
            raise ValueError(f"{dtype or 'NUMERIC'} score {name!r} has no numeric value")
        trace = outer or idx.traces.get(tid) or {}
        nested = tj.object_field(sc, "trace")  # v2 scores API: {"trace": {"userId", "tags", ...}}
        source = u.nullish(sc.get("source"))
        attrs = {
            "gen_ai.evaluation.name": name,
            "gen_ai.evaluation.score.value": float(value),
            "gen_ai.evaluation.score.label": label,
            "gen_ai.evaluation.source": source,
        }
        note = {
            "langfuse_type": "SCORE",
            "data_type": dtype or None,
            "environment": sc.get("environment") or trace.get("environment"),
            "config_id": sc.get("configId") or sc.get("config_id"),
            "comment": u.nullish(sc.get("comment")) if ctx.keep_text else None,
            "attributes": {k: v for k, v in attrs.items() if v is not None},
        }
        return {
            "trace_id": tid,
            "span_id": sid,
            "parent_span_id": u.nullish(tj.first_of(sc, "observationId", "observation_id")),
            "workflow": self._workflow(idx, tid, trace, sc, {}, ctx),
            "step": f"score:{name}",
            "session_id": u.nullish(tj.first_of(trace, "sessionId", "session_id")) or idx.session.get(tid),
            "user_id": u.nullish(tj.first_of(trace, "userId", "user_id"))
            or idx.user.get(tid)
            or u.nullish(tj.first_of(nested, "userId", "user_id")),
            "span_kind": "other",
            "operation": "evaluation",
            "name": f"score:{name}",
            "start_time": start,
            "status": "ok",
            "usage_scope": "none",
            "usage_source": "missing",
            "tags": tj.tag_map(trace.get("tags") if trace else nested.get("tags")),
            "row_key": u.key("score", sid),
            "source_line": loc,
            "attributes": tj.dumps({k: v for k, v in note.items() if v not in (None, {}, "")}),
        }

    def _trace_row(
        self, t: dict[str, Any], idx: _Index, ctx: ParseContext, loc: int
    ) -> dict[str, Any]:
        tid = str(t["id"])
        start = u.ts(t.get("timestamp"))
        if start is None:
            raise ValueError("trace has no timestamp")
        cost = u.money(tj.first_of(t, "totalCost", "total_cost"))
        latency = u.dec(t.get("latency"))
        row: dict[str, Any] = {
            "trace_id": tid,
            "span_id": tid,
            "workflow": idx.explicit.get(tid) or u.nullish(t.get("name")),
            "step": u.nullish(t.get("name")),
            "session_id": u.nullish(tj.first_of(t, "sessionId", "session_id")),
            "user_id": u.nullish(tj.first_of(t, "userId", "user_id")),
            "span_kind": "chain",
            "operation": "trace",
            "name": u.nullish(t.get("name")),
            "start_time": start,
            "usage_scope": "rollup" if cost else "none",
            "tags": tj.tag_map(t.get("tags")),
            "row_key": u.key(tid, tid),
            "source_line": loc,
            "attributes": tj.dumps({"langfuse_type": "TRACE", "latency_s": latency}),
        }
        if cost:
            row["reported_cost"], row["reported_cost_currency"] = cost, "USD"
        return row
