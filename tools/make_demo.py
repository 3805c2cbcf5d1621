#!/usr/bin/env python3
"""Write `sample_data/demo/`: one month (October 2026) of a fictional company's LLM bills and the
traces of the workflows behind them. The story is in `sample_data/demo/README.md`.

Run from the repository root: ``.venv/bin/python tools/make_demo.py [--out DIR]``.

Deterministic: every workflow has its own seeded `random.Random`, timestamps are computed (never
"now"), JSON keys are written in a fixed order and gzip headers carry no time or name, so a rerun
writes byte-identical files (the gzip bytes assume the same zlib build; tests/test_demo.py
compares them). Stdlib only, plus costlab's own `PriceBook` (bundled genai-prices: the price of
every token) and `costlab.tokens` (token counts of the prompt text the traces carry, so the
usage they report matches their text).

The bills are built from the calls, never the other way round: every traced call is priced at the
genai-prices unit price valid at its start time, and its tokens are added to its provider's
export at the provider's grain (Anthropic cost report: day x workspace x model x token type;
OpenAI Costs API: day x project x line item; AWS CUR 2.0: day x usage type). Calls that were
never traced (a cron script, developers' sandbox) are added to the bills and the usage reports
only. Non-token AWS lines (a GPU instance, an OpenSearch domain, S3) are priced at list rates.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from costlab import tokens  # noqa: E402
from costlab.names import normalise_model  # noqa: E402
from costlab.pricing import PriceBook  # noqa: E402

SEED = 20261031
MONTH = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = [MONTH.date() + timedelta(days=i) for i in range(31)]
ANOMALY_DAY = date(2026, 10, 21)
ANOMALY_WINDOW = (8.2, 17.7)  # hours UTC: the bad deploy and its rollback
CACHE_TTL = timedelta(minutes=5)

ANTHROPIC_ORG_WORKSPACES = {"support": "wrkspc_01NwSupportProd7Hq", "sandbox": "wrkspc_01NwSandboxDev3Kx"}
OPENAI_PROJECTS = {
    "triage": "proj_NwTriage8fK2",
    "kb": "proj_NwKbSearch4mQ",
    "scripts": "proj_NwOpsScripts9zR",
}
AWS_PAYER, AWS_ACCOUNT = "111122223333", "444455556666"

SONNET = ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929")
MINI = ("openai", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14")
GPT41 = ("openai", "gpt-4.1", "gpt-4.1-2025-04-14")
EMBED = ("openai", "text-embedding-3-small", "text-embedding-3-small")
HAIKU_BEDROCK = (
    "aws.bedrock",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
)
SELF_HOSTED = ("vllm", "northwind/llama-3.1-8b-triage-ft", "northwind/llama-3.1-8b-triage-ft")

BOOK = PriceBook.load()


# ----------------------------------------------------------------------------- prices
def unit_prices(provider: str, model: str, at: datetime) -> dict[str, Decimal]:
    """Per-token standard-tier prices valid at ``at`` (the <=200k input band)."""
    hit = BOOK.match(provider, model)
    if hit is None:
        raise SystemExit(f"make_demo: no price for {provider} {model}")
    rows = [
        r
        for r in BOOK.rows_for(hit.provider, hit.model)
        if r.service_tier == "standard"
        and r.covers(at)
        and r.time_of_day_from is None
        and r.input_tokens_above is None
    ]
    return {r.price_type: r.unit_price for r in rows}


# ----------------------------------------------------------------------------- text
PRODUCTS = [
    ("Router X2", "dual-band Wi-Fi 6 router"),
    ("Mesh Node M1", "mesh extender"),
    ("Cloud Backup", "encrypted backup subscription"),
    ("Smart Plug S", "energy-monitoring plug"),
    ("Doorbell Cam", "1080p video doorbell"),
    ("Hub Pro", "home automation hub"),
    ("Thermo T3", "learning thermostat"),
    ("Sensor Pack", "door and window sensors"),
]
ISSUES = [
    ("connectivity", "keeps dropping the connection every few minutes"),
    ("connectivity", "cannot join the 5 GHz network after the last update"),
    ("billing", "was charged twice for the monthly subscription"),
    ("billing", "wants a refund for the annual plan bought by mistake"),
    ("shipping", "has not received the order shipped eight days ago"),
    ("shipping", "received the wrong colour and wants an exchange"),
    ("hardware", "shows a blinking red light and will not boot"),
    ("hardware", "gets very hot and restarts on its own"),
    ("account", "cannot log in because the reset e-mail never arrives"),
    ("account", "wants to transfer the device to a new owner"),
    ("setup", "is stuck at step three of the pairing wizard"),
    ("setup", "does not show up in the app after a factory reset"),
]
FIRST = ["Ana", "Ben", "Chloé", "Dev", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jonas", "Kemi", "Lea",
         "Marta", "Nils", "Oskar", "Priya", "Quinn", "Rui", "Sven", "Tomás", "Uma", "Vera", "Wei", "Yara"]  # fmt: skip
POLICY_LINES = [
    "Refunds are possible within 30 days of delivery when the device is returned complete.",
    "Annual plans bought by mistake are refunded pro rata if cancelled within 14 days.",
    "Warranty covers manufacturing defects for 24 months from the delivery date.",
    "Shipping within the EU takes 2 to 5 business days; tracking numbers start with NW.",
    "Never ask for a full card number, a password or a one-time code.",
    "Offer a replacement before a refund when the device is under warranty.",
    "Escalate to a human agent when the customer asks for one, is angry twice, or mentions a safety issue.",
    "Quote order numbers exactly as the order system returns them.",
    "Do not promise delivery dates; give the carrier's estimate and the tracking link.",
    "Use the customer's first name once, at the start of the reply.",
]
STEPS_TEMPLATES = [
    "Open the Northwind app and tap Devices, then {product}.",
    "Hold the reset button for 10 seconds until the light blinks white.",
    "Make sure the phone is on the same 2.4 GHz network during pairing.",
    "Check that firmware {fw} or later is installed under Settings > About.",
    "Unplug the {product} for 30 seconds and plug it back in.",
    "Move the {product} within 5 metres of the router for the first setup.",
    "Sign out of the app, clear its cache and sign in again.",
    "Confirm the order number and the e-mail address used at checkout.",
]


def _fw(rng: random.Random) -> str:
    return f"{rng.randint(2, 4)}.{rng.randint(0, 9)}.{rng.randint(1, 30)}"


def support_system_prompt(rng: random.Random) -> str:
    """The support assistant's ~6,000-token system prompt: role, policies, a product catalogue
    with troubleshooting steps, and known issues."""
    out = [
        "You are Nora, the customer support assistant of Northwind Home Networks.",
        "Answer in the customer's language, in short paragraphs, and never invent facts.",
        "",
        "# Policies",
        *(f"- {line}" for line in POLICY_LINES),
        "",
        "# Tools",
        "- lookup_order(order_id): order status, items, carrier and tracking link.",
        "- lookup_device(serial): model, firmware, warranty end date, last check-in.",
        "- create_ticket(summary, priority): hands the conversation to a human agent.",
        "",
        "# Products",
    ]
    for name, kind in PRODUCTS:
        out += ["", f"## {name} ({kind})"]
        out.append(f"Current firmware: {_fw(rng)}. Warranty: 24 months. Price tier: {rng.choice('ABC')}.")
        for n in range(1, 7):
            issue = rng.choice([i for c, i in ISSUES if c in ("connectivity", "hardware", "setup")])
            out.append(f"### Known issue {n}: the {name} {issue}")
            steps = rng.sample(STEPS_TEMPLATES, 4)
            out += [f"{i}. " + s.format(product=name, fw=_fw(rng)) for i, s in enumerate(steps, 1)]
            out.append(f"If this does not help, collect the serial number and escalate with tag {name.split()[0].upper()}-{rng.randint(100, 999)}.")
    out += ["", "# Escalation", "Summarise the case in three lines before escalating.", ""]
    return "\n".join(out)


def triage_instructions(rng: random.Random) -> str:
    """The ticket-triage instructions (~1,800 tokens): categories, priorities, output schema."""
    out = ["You triage customer support tickets for Northwind Home Networks.",
           "Read the ticket and reply with one JSON object and nothing else:",
           '{"category": str, "priority": "P1"|"P2"|"P3"|"P4", "queue": str, "language": str, "summary": str}',
           "", "# Categories"]  # fmt: skip
    cats = sorted({c for c, _ in ISSUES})
    for cat in cats:
        out.append(f"## {cat}")
        for name, _ in PRODUCTS:
            out.append(f"- {name}: route {cat} tickets to queue {cat}-{name.split()[0].lower()}; "
                       f"P2 if the customer is blocked, P3 otherwise; P1 only for safety or outage reports.")  # fmt: skip
    out += ["", "# Examples"]
    for _ in range(12):
        cat, issue = rng.choice(ISSUES)
        name = rng.choice(PRODUCTS)[0]
        out.append(f'Ticket: "My {name} {issue}." -> {{"category": "{cat}", "priority": "P3", '
                   f'"queue": "{cat}-{name.split()[0].lower()}", "language": "en", "summary": "{name} {issue}"}}')  # fmt: skip
    return "\n".join(out)


def kb_articles(rng: random.Random) -> list[tuple[str, str]]:
    arts = []
    for name, kind in PRODUCTS:
        for cat, issue in ISSUES:
            title = f"{name}: {issue}"
            steps = rng.sample(STEPS_TEMPLATES, 5)
            body = [f"Applies to: {name} ({kind}), firmware {_fw(rng)} and later. Category: {cat}."]
            body += [f"{i}. " + s.format(product=name, fw=_fw(rng)) for i, s in enumerate(steps, 1)]
            arts.append((title, "\n".join(body)))
    return arts


EMAIL_FOLLOW_UPS = [
    "Hello again, I tried everything in your last e-mail and the problem is still there. What else can I do?",
    "Thanks for the quick answer. One more question: does the warranty also cover the power adapter?",
    "I have not heard back about my refund. Could you check where it is?",
]


def customer_profile(rng: random.Random, user: str) -> str:
    """The CRM block the app puts before the customer's first message."""
    lines = [f"Customer profile ({user}): plan {rng.choice(['Basic', 'Plus', 'Family'])}, "
             f"customer since {rng.randint(2019, 2026)}, language en."]  # fmt: skip
    for _ in range(rng.randint(3, 6)):
        name = rng.choice(PRODUCTS)[0]
        lines.append(f"- Device {name}, serial NW{rng.randint(10**7, 10**8 - 1)}, firmware {_fw(rng)}, "
                     f"warranty until 2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}, last check-in "
                     f"{rng.randint(1, 59)} minutes ago, {rng.choice(['online', 'offline', 'updating'])}.")  # fmt: skip
    for _ in range(rng.randint(4, 8)):
        lines.append(f"- Order NW-{rng.randint(100000, 999999)}: {rng.choice(PRODUCTS)[0]}, "
                     f"{rng.choice(['delivered', 'in transit', 'returned', 'refunded'])}, "
                     f"EUR {rng.randint(19, 349)}.{rng.choice(['00', '90', '99'])}.")  # fmt: skip
    return "\n".join(lines)


def ticket_text(rng: random.Random) -> tuple[str, str]:
    cat, issue = rng.choice(ISSUES)
    name = rng.choice(PRODUCTS)[0]
    who = rng.choice(FIRST)
    order = f"NW-{rng.randint(100000, 999999)}"
    extra = rng.choice([
        "I already restarted it twice.", "This is the second time this month.",
        "Please answer quickly, I work from home.", "The app says everything is fine.",
        f"My order number is {order}.", "I bought it at a partner store.",
    ])  # fmt: skip
    body = f"Subject: {name} problem\n\nHello, my {name} {issue}. {extra} Thanks, {who}"
    return cat, body


# ----------------------------------------------------------------------------- model
@dataclass
class Call:
    """One billable LLM call: what the trace says and what the bill charges."""

    workflow: str
    team: str | None
    step: str
    model: tuple[str, str, str]  # (gen_ai.provider.name, request model, response model)
    start: datetime
    ms: int
    input_tokens: int
    output_tokens: int
    cache_read: int = 0
    cache_write: int = 0
    scope: str = ""  # OpenAI project / Anthropic workspace / AWS account
    request_id: str | None = None
    operation: str = "chat"
    system: str | None = None
    messages: list[dict[str, Any]] | None = None
    traced: bool = True


@dataclass
class Span:
    name: str
    start: datetime
    ms: int
    attrs: dict[str, Any]
    call: Call | None = None
    status: int = 0
    kind: int = 1  # SPAN_KIND_INTERNAL; 3 = CLIENT
    span_id: str = ""


@dataclass
class Trace:
    workflow: str
    service: str
    trace_id: str
    root: Span
    children: list[Span] = field(default_factory=list)


def hex_id(rng: random.Random, nbytes: int) -> str:
    return f"{rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


def token_id(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def at(day: date, hours: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        microseconds=round(hours * 3_600_000_000 / 1000) * 1000
    )


def day_hours(rng: random.Random, n: int, peak: tuple[float, float] = (7.0, 21.0)) -> list[float]:
    """``n`` sorted times of day (hours), three quarters inside the busy window."""
    lo, hi = peak
    out = [rng.uniform(lo, hi) if rng.random() < 0.75 else rng.uniform(0, 23.99) for _ in range(n)]
    return sorted(out)


def weekend(day: date) -> bool:
    return day.weekday() >= 5


def prompt_tokens(system: str | None, messages: list[dict[str, Any]], model: str) -> tuple[int, int]:
    """(input tokens, tokens of the system message) as costlab estimates them from the text."""
    msgs = ([{"role": "system", "content": system}] if system else []) + messages
    feats = tokens.prompt_features(msgs, model=model)
    return int(feats["input_tokens_estimate"]), int(feats["message_tokens"][0]) if system else 0


def text_msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


# ----------------------------------------------------------------------------- workflows
def support_chat() -> list[Trace]:
    """Anthropic claude-sonnet-4-5 behind the help widget (chat, cached system prompt) and the
    e-mail channel (same prompt, no cache_control: every reply pays the full prompt)."""
    rng = random.Random(f"{SEED}-support-chat")
    system = support_system_prompt(rng)
    traces: list[Trace] = []
    last_cache: datetime | None = None
    service = "northwind-support-assistant"
    for day in DAYS:
        n = rng.randint(10, 14) if weekend(day) else rng.randint(26, 32)
        for hour in day_hours(rng, n):
            session = f"conv_{token_id(rng, 12)}"
            user = f"cust_{rng.randint(10000, 99999)}"
            email = rng.random() < 0.45
            cat, ticket = ticket_text(rng)
            ticket = f"{customer_profile(rng, user)}\n\n{ticket}"
            t = at(day, hour)
            history: list[dict[str, Any]] = []
            turns = rng.randint(1, 3) if email else rng.randint(2, 5)
            for turn in range(turns):
                user_text = ticket if turn == 0 else rng.choice(EMAIL_FOLLOW_UPS) if email else rng.choice([
                    "That did not work, the light is still blinking.",
                    "OK, done. What now?", "Can you check my order status?",
                    "I would rather get a refund.", "It works now, thank you!",
                    "Is this covered by the warranty?", "Can I talk to a human?",
                ])  # fmt: skip
                history.append(text_msg("user", user_text))
                trace = Trace("support-chat", service, hex_id(rng, 16),
                              Span("invoke_workflow support-chat", t, 0, {}))  # fmt: skip
                trace.root.attrs = {"gen_ai.operation.name": "invoke_workflow",
                                    "gen_ai.workflow.name": "support-chat",
                                    "gen_ai.conversation.id": session, "user.id": user,
                                    "traceloop.association.properties.team": "support",
                                    "traceloop.association.properties.channel": "email" if email else "chat"}  # fmt: skip
                cursor = t
                use_tool = not email and rng.random() < 0.4
                rounds = 2 if use_tool else 1
                for r in range(rounds):
                    step = "email-reply" if email else "chat-reply"
                    inp, sys_tokens = prompt_tokens(system, history, SONNET[1])
                    read = write = 0
                    if not email:  # cache_control on the system prompt, 5-minute TTL
                        if last_cache is not None and cursor - last_cache <= CACHE_TTL:
                            read = sys_tokens
                        else:
                            write = sys_tokens
                        last_cache = cursor
                    if use_tool and r == 0:
                        order = f"NW-{rng.randint(100000, 999999)}"
                        tool_id = f"toolu_{token_id(rng, 16)}"
                        reply: dict[str, Any] = {"role": "assistant", "parts": [{"type": "tool_call", "id": tool_id, "name": "lookup_order", "arguments": {"order_id": order}}]}  # fmt: skip
                        out_tokens = rng.randint(55, 90)
                    else:
                        reply = text_msg("assistant", rng.choice([
                            "I'm sorry about that. Let's fix it together: " + " ".join(rng.sample(STEPS_TEMPLATES, 3)).format(product="device", fw="3.2.0"),
                            "Thanks for waiting. Your order is with the carrier and the tracking link is in your e-mail.",
                            "I've created a ticket for our team; an agent will reply within one business day.",
                            "Good news: your device is under warranty until next year, so a replacement is free.",
                        ]))  # fmt: skip
                        out_tokens = rng.randint(180, 520)
                    ms = rng.randint(2500, 9000) + out_tokens * 12
                    call = Call("support-chat", "support", step, SONNET, cursor, ms, inp, out_tokens,
                                cache_read=read, cache_write=write,
                                scope=ANTHROPIC_ORG_WORKSPACES["support"],
                                request_id=f"msg_01{token_id(rng, 22)}", system=system,
                                messages=[dict(m) for m in history])  # fmt: skip
                    trace.children.append(Span(f"chat {SONNET[1]}", cursor, ms, {}, call, kind=3))
                    cursor += timedelta(milliseconds=ms)
                    history.append(reply)
                    if use_tool and r == 0:
                        tool_ms = rng.randint(80, 400)
                        trace.children.append(Span("execute_tool lookup_order", cursor, tool_ms, {
                            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                            "traceloop.association.properties.team": "support"}))  # fmt: skip
                        cursor += timedelta(milliseconds=tool_ms)
                        history.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": tool_id, "response": {"status": rng.choice(["in_transit", "delivered", "processing"]), "carrier": "DHL", "tracking": f"NW{rng.randint(10**9, 10**10 - 1)}"}}]})  # fmt: skip
                trace.root.ms = int((cursor - t).total_seconds() * 1000) + 20
                traces.append(trace)
                t = cursor + timedelta(seconds=rng.randint(25, 150))
    return traces


def ticket_triage() -> list[Trace]:
    """OpenAI gpt-4.1 classifies every new ticket. The prompt starts with the current time, so
    OpenAI's prefix cache never hits. On 2026-10-21 a deploy added a required field the prompt did
    not ask for; the validator retried each ticket six times until the rollback."""
    rng = random.Random(f"{SEED}-ticket-triage")
    instructions = triage_instructions(rng)
    traces: list[Trace] = []
    service = "northwind-triage-worker"
    for day in DAYS:
        n = rng.randint(35, 45) if weekend(day) else rng.randint(85, 100)
        for hour in day_hours(rng, n, (6.0, 20.0)):
            t = at(day, hour)
            cat, body = ticket_text(rng)
            trace = Trace("ticket-triage", service, hex_id(rng, 16),
                          Span("invoke_workflow ticket-triage", t, 0, {
                              "gen_ai.operation.name": "invoke_workflow",
                              "gen_ai.workflow.name": "ticket-triage",
                              "traceloop.association.properties.team": "ops"}))  # fmt: skip
            broken = day == ANOMALY_DAY and ANOMALY_WINDOW[0] <= hour < ANOMALY_WINDOW[1]
            attempts = 6 if broken else 1
            system = f"Current time: {t.strftime('%Y-%m-%dT%H:%M:%SZ')}\n\n{instructions}"
            messages = [text_msg("user", body)]
            cursor = t
            for attempt in range(attempts):
                inp, _ = prompt_tokens(system, messages, GPT41[1])
                answer = json.dumps({"category": cat, "priority": rng.choice(["P2", "P3", "P3", "P4"]),
                                     "queue": f"{cat}-general", "language": "en",
                                     "summary": body.splitlines()[2][:80]})  # fmt: skip
                out_tokens = tokens.count(answer, GPT41[1])
                ms = rng.randint(600, 1800)
                call = Call("ticket-triage", "ops", "classify", GPT41, cursor, ms, inp, out_tokens,
                            scope=OPENAI_PROJECTS["triage"], request_id=f"chatcmpl-{token_id(rng, 29)}",
                            system=system, messages=[dict(m) for m in messages])  # fmt: skip
                span = Span(f"chat {GPT41[1]}", cursor, ms, {"retry.attempt": attempt}, call, kind=3)
                trace.children.append(span)
                cursor += timedelta(milliseconds=ms + (250 * 2**attempt if broken else 0))
                if broken:
                    messages = messages + [text_msg("assistant", answer), text_msg("user",
                        "Your reply does not match the schema: field 'sla_tier' is required. Reply again with the full JSON object.")]  # fmt: skip
            if broken:
                trace.root.status = 2
            trace.root.ms = int((cursor - t).total_seconds() * 1000) + 15
            traces.append(trace)
    return traces


def kb_search() -> list[Trace]:
    """Internal knowledge-base search: embed the question (text-embedding-3-small), k-NN in the
    OpenSearch domain, answer with gpt-4.1-mini from three articles. The instructions are a stable
    1,100+ token prefix, so OpenAI caches them when queries come within a few minutes."""
    rng = random.Random(f"{SEED}-kb-search")
    arts = kb_articles(rng)
    instructions = ("You answer Northwind support agents' questions from the knowledge-base "
                    "articles given below. Cite article titles in brackets. If the articles do not "
                    "answer the question, say so.\n\n# Style guide\n" + "\n".join(
                        f"- {p}" for p in POLICY_LINES * 9))  # fmt: skip
    traces: list[Trace] = []
    last: datetime | None = None
    service = "northwind-kb-search"
    for day in DAYS:
        n = rng.randint(3, 8) if weekend(day) else rng.randint(28, 40)
        for hour in day_hours(rng, n, (7.0, 18.0)):
            t = at(day, hour)
            name, _ = rng.choice(PRODUCTS)
            question = rng.choice(["How do I fix a {p} that {i}?", "Customer's {p} {i}: what should I try first?",
                                   "Is there a known issue where the {p} {i}?"]).format(p=name, i=rng.choice(ISSUES)[1])  # fmt: skip
            agent = f"agent_{rng.choice(FIRST).lower()}"
            trace = Trace("kb-search", service, hex_id(rng, 16), Span("invoke_workflow kb-search", t, 0, {
                "gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "kb-search",
                "user.id": agent, "traceloop.association.properties.team": "platform"}))  # fmt: skip
            ems = rng.randint(90, 260)
            emb = Call("kb-search", "platform", "embed-query", EMBED, t, ems,
                       tokens.count(question, EMBED[1]), 0, scope=OPENAI_PROJECTS["kb"],
                       operation="embeddings")  # fmt: skip
            trace.children.append(Span(f"embeddings {EMBED[1]}", t, ems, {}, emb, kind=3))
            cursor = t + timedelta(milliseconds=ems)
            rms = rng.randint(30, 120)
            trace.children.append(Span("retrieval kb-articles", cursor, rms, {
                "gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "opensearch:northwind-kb",
                "traceloop.association.properties.team": "platform"}))  # fmt: skip
            cursor += timedelta(milliseconds=rms)
            picked = rng.sample(arts, 3)
            context = "\n\n".join(f"## {a}\n{b}" for a, b in picked)
            messages = [text_msg("user", f"{context}\n\nQuestion: {question}")]
            inp, sys_tokens = prompt_tokens(instructions, messages, MINI[1])
            cached = (sys_tokens // 128) * 128 if last is not None and cursor - last <= CACHE_TTL else 0
            last = cursor
            out_tokens = rng.randint(120, 320)
            ms = rng.randint(900, 2600) + out_tokens * 8
            ans = Call("kb-search", "platform", "answer", MINI, cursor, ms, inp, out_tokens,
                       cache_read=cached, scope=OPENAI_PROJECTS["kb"],
                       request_id=f"chatcmpl-{token_id(rng, 29)}", system=instructions,
                       messages=messages)  # fmt: skip
            trace.children.append(Span(f"chat {MINI[1]}", cursor, ms, {}, ans, kind=3))
            cursor += timedelta(milliseconds=ms)
            trace.root.ms = int((cursor - t).total_seconds() * 1000) + 10
            traces.append(trace)
    return traces


def nightly_digest() -> list[Trace]:
    """Claude Haiku 4.5 on Amazon Bedrock summarises yesterday's tickets at 02:00 UTC: twenty
    batch summaries and one digest. Nobody reads it before 08:00 (a batch-inference candidate).
    Message content capture is off in this service: usage only."""
    rng = random.Random(f"{SEED}-nightly-digest")
    traces: list[Trace] = []
    for day in DAYS:
        t = at(day, 2.0 + rng.uniform(0, 0.02))
        trace = Trace("nightly-digest", "northwind-digest-job", hex_id(rng, 16),
                      Span("invoke_workflow nightly-digest", t, 0, {
                          "gen_ai.operation.name": "invoke_workflow",
                          "gen_ai.workflow.name": "nightly-digest",
                          "traceloop.association.properties.team": "ops"}))  # fmt: skip
        cursor = t
        for i in range(21):
            last = i == 20
            inp = rng.randint(12_000, 16_000) if last else rng.randint(55_000, 85_000)
            out = rng.randint(1_600, 2_400) if last else rng.randint(700, 1_400)
            ms = rng.randint(8_000, 20_000) + out * 6
            call = Call("nightly-digest", "ops", "compose-digest" if last else "summarise-batch",
                        HAIKU_BEDROCK, cursor, ms, inp, out, scope=AWS_ACCOUNT,
                        request_id=_uuid(rng))  # fmt: skip
            trace.children.append(Span(f"chat {HAIKU_BEDROCK[1]}", cursor, ms, {}, call, kind=3))
            cursor += timedelta(milliseconds=ms)
        trace.root.ms = int((cursor - t).total_seconds() * 1000) + 40
        traces.append(trace)
    return traces


def eval_harness() -> tuple[list[Trace], dict[date, Decimal]]:
    """Weekday evening evaluation of a fine-tuned Llama 3.1 8B (served with vLLM on a g5.xlarge)
    as a cheaper replacement for ticket-triage's gpt-4.1. Self-hosted: no token price, so its
    calls are unpriced (listed with tokens); the GPU hours are in the CUR. Returns the traces and
    the GPU hours per day."""
    rng = random.Random(f"{SEED}-eval-harness")
    traces: list[Trace] = []
    hours: dict[date, Decimal] = {}
    for day in DAYS:
        if weekend(day):
            continue
        t = at(day, 19.0 + rng.uniform(0, 0.1))
        trace = Trace("eval-harness", "northwind-eval-harness", hex_id(rng, 16),
                      Span("invoke_workflow eval-harness", t, 0, {
                          "gen_ai.operation.name": "invoke_workflow",
                          "gen_ai.workflow.name": "eval-harness",
                          "traceloop.association.properties.team": "platform"}))  # fmt: skip
        cursor = t
        for _ in range(40):
            inp, out = rng.randint(1_900, 2_300), rng.randint(45, 90)
            ms = rng.randint(300, 900)
            call = Call("eval-harness", "platform", "triage-candidate", SELF_HOSTED, cursor, ms, inp,
                        out, scope="self-hosted", request_id=f"cmpl-{hex_id(rng, 16)}")  # fmt: skip
            trace.children.append(Span(f"chat {SELF_HOSTED[1]}", cursor, ms, {}, call, kind=3))
            cursor += timedelta(milliseconds=ms + rng.randint(50, 200))
        trace.root.ms = int((cursor - t).total_seconds() * 1000) + 30
        traces.append(trace)
        # the harness starts the GPU instance, warms vLLM up, runs, and stops it
        hours[day] = Decimal(rng.choice(["1.25", "1.5", "1.5", "1.75", "2"]))
    return traces, hours


def _uuid(rng: random.Random) -> str:
    h = hex_id(rng, 16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def untraced_calls() -> list[Call]:
    """Money with no trace: the ops team's SLA report cron script (gpt-4.1, no instrumentation)
    and engineers trying prompts in the Anthropic sandbox workspace."""
    rng = random.Random(f"{SEED}-untraced")
    out: list[Call] = []
    for day in DAYS:
        for i in range(10):
            out.append(Call("sla-report", "ops", "report", GPT41, at(day, 6.0 + i * 0.01), 4000,
                            rng.randint(9_000, 13_000), rng.randint(600, 1_000),
                            scope=OPENAI_PROJECTS["scripts"], traced=False))  # fmt: skip
        if not weekend(day):
            for hour in day_hours(rng, rng.randint(6, 12), (8.0, 17.0)):
                out.append(Call("sandbox", None, "playground", SONNET, at(day, hour), 6000,
                                rng.randint(4_000, 12_000), rng.randint(300, 1_200),
                                scope=ANTHROPIC_ORG_WORKSPACES["sandbox"], traced=False))  # fmt: skip
    return out


# ----------------------------------------------------------------------------- OTLP
def _av(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_av(x) for x in v]}}
    return {"stringValue": str(v)}


def _nanos(t: datetime) -> str:
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return str((delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000)


def call_attrs(c: Call, capture: bool) -> dict[str, Any]:
    provider, request_model, response_model = c.model
    a: dict[str, Any] = {
        "gen_ai.operation.name": c.operation,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": request_model,
        "gen_ai.response.model": response_model,
    }
    if c.request_id:
        a["gen_ai.response.id"] = c.request_id
    a["gen_ai.usage.input_tokens"] = c.input_tokens
    if c.operation != "embeddings":
        a["gen_ai.usage.output_tokens"] = c.output_tokens
    if c.cache_read:
        a["gen_ai.usage.cache_read.input_tokens"] = c.cache_read
    if c.cache_write:
        a["gen_ai.usage.cache_creation.input_tokens"] = c.cache_write
    a["traceloop.entity.name"] = c.step
    if c.team:
        a["traceloop.association.properties.team"] = c.team
    if capture and c.system is not None:
        a["gen_ai.system_instructions"] = json.dumps([{"type": "text", "content": c.system}], ensure_ascii=False)
    if capture and c.messages is not None:
        a["gen_ai.input.messages"] = json.dumps(c.messages, ensure_ascii=False)
    return a


def otlp_lines(traces: list[Trace], scope: str, capture: bool, rng: random.Random) -> Iterator[str]:
    """One ExportTraceServiceRequest per trace, in start order (what a collector's file exporter
    writes with a small batch size)."""
    for tr in sorted(traces, key=lambda x: (x.root.start, x.trace_id)):
        tr.root.span_id = hex_id(rng, 8)
        spans = []
        for s in [tr.root, *tr.children]:
            s.span_id = s.span_id or hex_id(rng, 8)
            attrs = dict(s.attrs)
            if s.call is not None:
                attrs = {**call_attrs(s.call, capture), **attrs}
            spans.append({
                "traceId": tr.trace_id, "spanId": s.span_id,
                "parentSpanId": "" if s is tr.root else tr.root.span_id,
                "name": s.name, "kind": s.kind,
                "startTimeUnixNano": _nanos(s.start),
                "endTimeUnixNano": _nanos(s.start + timedelta(milliseconds=s.ms)),
                "attributes": [{"key": k, "value": _av(v)} for k, v in attrs.items()],
                "status": {"code": s.status},
            })  # fmt: skip
        batch = {"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": tr.service}},
                {"key": "deployment.environment.name", "value": {"stringValue": "production"}}]},
            "scopeSpans": [{"scope": {"name": scope, "version": "0.47.3"}, "spans": spans}],
        }]}  # fmt: skip
        yield json.dumps(batch, ensure_ascii=False, separators=(",", ":"))


# ----------------------------------------------------------------------------- billing
_DEC = re.compile(r'"@@(-?[0-9.]+)@@"')


def num(d: Decimal) -> str:
    """A Decimal as a JSON number, exactly (see `dumps`)."""
    return f"@@{_plain(d)}@@"


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def dumps(obj: Any) -> str:
    return _DEC.sub(r"\1", json.dumps(obj, ensure_ascii=False, indent=1))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parts(c: Call) -> dict[str, int]:
    """Disjoint token parts of a call as its provider bills them."""
    out = {"input_uncached": c.input_tokens - c.cache_read - c.cache_write,
           "input_cache_read": c.cache_read, "input_cache_write_5m": c.cache_write,
           "output": c.output_tokens}  # fmt: skip
    return {k: v for k, v in out.items() if v}


ANTHROPIC_TOKEN_TYPES = {
    "input_uncached": ("uncached_input_tokens", "Input Tokens"),
    "input_cache_read": ("cache_read_input_tokens", "Cache Read Input Tokens"),
    "input_cache_write_5m": ("cache_creation.ephemeral_5m_input_tokens", "Cache Write (5m) Input Tokens"),
    "output": ("output_tokens", "Output Tokens"),
}


def anthropic_files(calls: list[Call]) -> dict[str, str]:
    tok: dict[tuple[date, str, str, str], int] = defaultdict(int)
    for c in calls:
        for ptype, n in parts(c).items():
            tok[(c.start.date(), c.scope, c.model[2], ptype)] += n
    cost_buckets, usage_buckets = [], []
    for day in DAYS:
        start, end = day_bounds(day)
        keys = sorted(k for k in tok if k[0] == day)
        results = []
        for _, ws, model, ptype in keys:
            price = unit_prices("anthropic", model, start)[ptype]
            cents = tok[(day, ws, model, ptype)] * price * 100
            token_type, label = ANTHROPIC_TOKEN_TYPES[ptype]
            results.append({"amount": _plain(cents), "context_window": "0-200k", "cost_type": "tokens",
                            "currency": "USD", "description": f"Claude Sonnet 4.5 Usage - {label}",
                            "inference_geo": None, "model": model, "service_tier": "standard",
                            "speed": None, "token_type": token_type, "workspace_id": ws})  # fmt: skip
        cost_buckets.append({"starting_at": iso(start), "ending_at": iso(end), "results": results})
        usage = []
        for ws, model in sorted({(k[1], k[2]) for k in keys}):
            g = {p: tok.get((day, ws, model, p), 0) for p in ANTHROPIC_TOKEN_TYPES}
            usage.append({"api_key_id": None, "cache_creation": {"ephemeral_1h_input_tokens": 0,
                          "ephemeral_5m_input_tokens": g["input_cache_write_5m"]},
                          "cache_read_input_tokens": g["input_cache_read"], "context_window": None,
                          "model": model, "output_tokens": g["output"],
                          "server_tool_use": {"web_search_requests": 0}, "service_tier": None,
                          "uncached_input_tokens": g["input_uncached"], "workspace_id": ws})  # fmt: skip
        usage_buckets.append({"starting_at": iso(start), "ending_at": iso(end), "results": usage})
    page = {"data": cost_buckets, "has_more": False, "next_page": None}
    upage = {"data": usage_buckets, "has_more": False, "next_page": None}
    return {"billing/anthropic/cost_report_2026-10.json": dumps(page),
            "billing/anthropic/usage_report_messages_2026-10.json": dumps(upage)}


OPENAI_LINE = {"input_uncached": "input", "input_cache_read": "cached input", "output": "output"}


def openai_files(calls: list[Call]) -> dict[str, str]:
    tok: dict[tuple[date, str, str, str], int] = defaultdict(int)
    usage: dict[tuple[date, str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in calls:
        kind = "embeddings" if c.operation == "embeddings" else "completions"
        u = usage[(c.start.date(), kind, c.scope, c.model[2])]
        u["input_tokens"] += c.input_tokens
        u["num_model_requests"] += 1
        if kind == "completions":
            u["output_tokens"] += c.output_tokens
            u["input_cached_tokens"] += c.cache_read
        for ptype, n in parts(c).items():
            tok[(c.start.date(), c.scope, c.model[2], ptype)] += n
    cost_buckets = []
    for day in DAYS:
        start, end = day_bounds(day)
        results = []
        for _, proj, model, ptype in sorted(k for k in tok if k[0] == day):
            n = tok[(day, proj, model, ptype)]
            amount = n * unit_prices("openai", model, start)[ptype]
            results.append({"object": "organization.costs.result",
                            "amount": {"value": num(amount), "currency": "usd"},
                            "line_item": f"{model}, {OPENAI_LINE[ptype]}", "project_id": proj,
                            "api_key_id": None, "quantity": n, "quantity_unit": "tokens"})  # fmt: skip
        cost_buckets.append({"object": "bucket", "start_time": int(start.timestamp()),
                             "end_time": int(end.timestamp()), "results": results})  # fmt: skip
    files = {"billing/openai/costs_2026-10.json": dumps(
        {"object": "page", "data": cost_buckets, "has_more": False, "next_page": None})}
    for kind in ("completions", "embeddings"):
        buckets = []
        for day in DAYS:
            start, end = day_bounds(day)
            results = []
            for _, _, proj, model in sorted(k for k in usage if k[0] == day and k[1] == kind):
                u = usage[(day, kind, proj, model)]
                r: dict[str, Any] = {"object": f"organization.usage.{kind}.result",
                                     "input_tokens": u["input_tokens"]}  # fmt: skip
                if kind == "completions":
                    r.update(output_tokens=u["output_tokens"], input_cached_tokens=u["input_cached_tokens"],
                             input_uncached_tokens=u["input_tokens"] - u["input_cached_tokens"],
                             input_audio_tokens=0, output_audio_tokens=0)  # fmt: skip
                r.update(num_model_requests=u["num_model_requests"], project_id=proj, user_id=None,
                         api_key_id=None, model=model)  # fmt: skip
                if kind == "completions":
                    r.update(batch=None, service_tier=None)
                results.append(r)
            buckets.append({"object": "bucket", "start_time": int(start.timestamp()),
                            "end_time": int(end.timestamp()), "results": results})  # fmt: skip
        files[f"billing/openai/usage_{kind}_2026-10.json"] = dumps(
            {"object": "page", "data": buckets, "has_more": False, "next_page": None})
    return files


CUR_COLUMNS = [
    "identity_line_item_id", "identity_time_interval", "bill_invoice_id", "bill_invoicing_entity",
    "bill_billing_entity", "bill_bill_type", "bill_payer_account_id", "bill_payer_account_name",
    "bill_billing_period_start_date", "bill_billing_period_end_date", "line_item_usage_account_id",
    "line_item_usage_account_name", "line_item_line_item_type", "line_item_usage_start_date",
    "line_item_usage_end_date", "line_item_product_code", "line_item_usage_type", "line_item_operation",
    "line_item_resource_id", "line_item_usage_amount", "line_item_currency_code", "line_item_unblended_rate",
    "line_item_unblended_cost", "line_item_net_unblended_cost", "line_item_line_item_description",
    "line_item_legal_entity", "line_item_iam_principal", "product", "product_product_family",
    "product_region_code", "product_sku", "pricing_public_on_demand_cost", "pricing_public_on_demand_rate",
    "pricing_term", "pricing_unit", "resource_tags", "cost_category", "discount", "tags",
]  # fmt: skip
GPU_RATE = Decimal("1.006")  # g5.xlarge on-demand, us-east-1, USD per hour
OPENSEARCH_RATE = Decimal("0.036")  # t3.small.search, USD per hour
EBS_GB, EBS_RATE = Decimal(20), Decimal("0.122")  # gp3 for OpenSearch, USD per GB-month
S3_GB, S3_RATE = Decimal(180), Decimal("0.023")  # S3 Standard, USD per GB-month
Q10 = Decimal("1e-10")


def cur_file(calls: list[Call], gpu_hours: dict[date, Decimal]) -> dict[str, str]:
    """CUR 2.0 Data Export (CSV, daily granularity) for the Northwind production account."""
    rng = random.Random(f"{SEED}-cur")
    role = f"arn:aws:sts::{AWS_ACCOUNT}:assumed-role/DigestJobRole/northwind-digest"
    bedrock_tags = {"user_team": "ops", "user_workflow": "nightly-digest"}
    profile = f"arn:aws:bedrock:us-east-1:{AWS_ACCOUNT}:application-inference-profile/nwdigest01"
    tok: dict[tuple[date, str], int] = defaultdict(int)
    for c in calls:
        for ptype, n in parts(c).items():
            tok[(c.start.date(), ptype)] += n
    rows: list[dict[str, Any]] = []

    def line(day: date, product: str, usage_type: str, operation: str, resource: str, amount: Decimal,
             rate: Decimal, unit: str, desc: str, product_map: dict[str, str], family: str,
             tags: dict[str, str], principal: str = "") -> None:  # fmt: skip
        start, end = day_bounds(day)
        cost = (amount * rate).quantize(Q10) if unit != "1K tokens" else amount * rate
        rows.append({
            "identity_line_item_id": hex_id(rng, 26), "identity_time_interval": f"{iso(start)}/{iso(end)}",
            "bill_invoice_id": "", "bill_invoicing_entity": "Amazon Web Services, Inc.",
            "bill_billing_entity": "AWS", "bill_bill_type": "Anniversary",
            "bill_payer_account_id": AWS_PAYER, "bill_payer_account_name": "northwind-payer",
            "bill_billing_period_start_date": iso(MONTH), "bill_billing_period_end_date": "2026-11-01T00:00:00Z",
            "line_item_usage_account_id": AWS_ACCOUNT, "line_item_usage_account_name": "northwind-prod",
            "line_item_line_item_type": "Usage", "line_item_usage_start_date": iso(start),
            "line_item_usage_end_date": iso(end), "line_item_product_code": product,
            "line_item_usage_type": usage_type, "line_item_operation": operation,
            "line_item_resource_id": resource, "line_item_usage_amount": _plain(amount),
            "line_item_currency_code": "USD", "line_item_unblended_rate": _plain(rate),
            "line_item_unblended_cost": _plain(cost), "line_item_net_unblended_cost": _plain(cost),
            "line_item_line_item_description": desc, "line_item_legal_entity": "Amazon Web Services, Inc.",
            "line_item_iam_principal": principal,
            "product": json.dumps({"product_name": product_map["name"], "region": "us-east-1", **{k: v for k, v in product_map.items() if k != "name"}}),
            "product_product_family": family, "product_region_code": "us-east-1",
            "product_sku": hashlib.sha256(f"{product}{usage_type}".encode()).hexdigest()[:16].upper(),
            "pricing_public_on_demand_cost": _plain(cost), "pricing_public_on_demand_rate": _plain(rate),
            "pricing_term": "OnDemand", "pricing_unit": unit,
            "resource_tags": json.dumps(tags, sort_keys=True), "cost_category": "{}", "discount": "{}",
            "tags": "{}",
        })  # fmt: skip

    kinds = {"input_uncached": ("input-tokens", "input tokens"), "output": ("output-tokens", "output tokens")}
    for day in DAYS:
        start, _ = day_bounds(day)
        prices = unit_prices("aws.bedrock", normalise_model("aws.bedrock", HAIKU_BEDROCK[2]), start)
        for ptype, (suffix, words) in kinds.items():
            n = tok.get((day, ptype), 0)
            if n:
                rate = prices[ptype] * 1000
                line(day, "AmazonBedrock", f"USE1-Claude4.5Haiku-{suffix}", "InvokeModelInference", profile,
                     Decimal(n) / 1000, rate, "1K tokens",
                     f"${_plain(rate)} per 1K {words} for Claude Haiku 4.5 in US East (N. Virginia)",
                     {"name": "Amazon Bedrock"}, "Amazon Bedrock", bedrock_tags, role)  # fmt: skip
        if day in gpu_hours:
            line(day, "AmazonEC2", "BoxUsage:g5.xlarge", "RunInstances", "i-0e5a17c0ffee4a11d",
                 gpu_hours[day], GPU_RATE, "Hrs", "$1.006 per On Demand Linux g5.xlarge Instance Hour",
                 {"name": "Amazon Elastic Compute Cloud", "instance_type": "g5.xlarge"}, "Compute Instance",
                 {"user_team": "platform", "user_workflow": "eval-harness"})  # fmt: skip
        domain = f"arn:aws:es:us-east-1:{AWS_ACCOUNT}:domain/northwind-kb"
        os_tags = {"user_team": "platform", "user_workflow": "kb-search"}
        line(day, "AmazonES", "USE1-ESInstance:t3.small.search", "ESDomain", domain, Decimal(24),
             OPENSEARCH_RATE, "Hrs", "$0.036 per t3.small.search instance hour (or partial hour)",
             {"name": "Amazon OpenSearch Service"}, "Amazon OpenSearch Service Instance", os_tags)  # fmt: skip
        line(day, "AmazonES", "USE1-ES:GP3-Storage", "ESDomain", domain, (EBS_GB / 31).quantize(Q10),
             EBS_RATE, "GB-Mo", "$0.122 per GB-Month of gp3 storage", {"name": "Amazon OpenSearch Service"},
             "Amazon OpenSearch Service Volume", os_tags)  # fmt: skip
        line(day, "AmazonS3", "USE1-TimedStorage-ByteHrs", "StandardStorage", "northwind-kb-documents",
             (S3_GB / 31).quantize(Q10), S3_RATE, "GB-Mo", "$0.023 per GB - first 50 TB / month of storage used",
             {"name": "Amazon Simple Storage Service"}, "Storage", {})  # fmt: skip
    return {"billing/aws/cur2/BILLING_PERIOD=2026-10/northwind-cur2-00001.csv": _csv(rows)}


def _csv(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, CUR_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


# ----------------------------------------------------------------------------- main
TRACE_FILES = {
    # workflow: (file, instrumentation scope, message content captured)
    "support-chat": ("traces/otlp/support-chat.jsonl.gz", "opentelemetry.instrumentation.anthropic", True),
    "ticket-triage": ("traces/otlp/ticket-triage.jsonl.gz", "opentelemetry.instrumentation.openai", True),
    "kb-search": ("traces/otlp/kb-search.jsonl.gz", "opentelemetry.instrumentation.openai", True),
    "nightly-digest": ("traces/otlp/nightly-digest.jsonl.gz", "opentelemetry.instrumentation.bedrock", False),
    "eval-harness": ("traces/otlp/eval-harness.jsonl.gz", "opentelemetry.instrumentation.openai", False),
}


def build() -> dict[str, bytes]:
    """Every demo file, path relative to the demo folder -> bytes."""
    eval_traces, gpu = eval_harness()
    by_flow = {"support-chat": support_chat(), "ticket-triage": ticket_triage(), "kb-search": kb_search(),
               "nightly-digest": nightly_digest(), "eval-harness": eval_traces}  # fmt: skip
    files: dict[str, bytes] = {}
    calls: list[Call] = []
    for flow, traces in by_flow.items():
        path, scope, capture = TRACE_FILES[flow]
        text = "".join(line + "\n" for line in otlp_lines(traces, scope, capture, random.Random(f"{SEED}-ids-{flow}")))
        data = text.encode("utf-8")
        files[path] = gzip.compress(data, compresslevel=9, mtime=0) if path.endswith(".gz") else data
        calls += [s.call for tr in traces for s in tr.children if s.call is not None]
    calls += untraced_calls()
    by_provider: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        by_provider[c.model[0]].append(c)
    text_files = {**anthropic_files(by_provider["anthropic"]), **openai_files(by_provider["openai"]),
                  **cur_file(by_provider["aws.bedrock"], gpu)}  # fmt: skip
    files.update({k: v.encode("utf-8") for k, v in text_files.items()})
    files["costlab.toml"] = CONFIG.encode("utf-8")
    files["metrics.csv"] = business_metrics(by_flow).encode("utf-8")
    return dict(sorted(files.items()))


def business_metrics(by_flow: dict[str, list[Trace]]) -> str:
    """The unit-cost denominators (costlab/money/metrics.py format): conversations the support
    assistant resolved (9 in 10 of its conversations; the rest go to a human) and tickets the
    triage step closed, per day."""
    support = Counter(tr.root.start.date() for tr in by_flow["support-chat"])
    triage = Counter(tr.root.start.date() for tr in by_flow["ticket-triage"])
    lines = ["day,metric,value,workflow"]
    for day in DAYS:
        lines.append(f"{day.isoformat()},conversations_resolved,{support[day] * 9 // 10},support-chat")
        lines.append(f"{day.isoformat()},tickets_closed,{triage[day]},")
    return "\n".join(lines) + "\n"


CONFIG = f"""# Settings for the Northwind demo (written by tools/make_demo.py). Use it with
#   costlab --config sample_data/demo/costlab.toml ingest sample_data --lake .costlab/lake
#   costlab --config sample_data/demo/costlab.toml report --lake .costlab/lake
[ingest]
exclude = ["metrics.csv"]           # business metrics for unit costs, not an export

[report]
metrics = "metrics.csv"             # conversations resolved, tickets closed per day

[budgets]
total = 150                         # USD a month of traced LLM spend
[budgets.workflow]
"ticket-triage" = 12                # the retry loop on 2026-10-21 pushes triage over this

[alerts]
# The demo prints its alerts and exits 0. Cron jobs keep the default, budget,anomaly:
# exit 3 when a budget is exceeded, 4 on a cost anomaly.
fail_on = "none"

# Bills name projects and workspaces, not workflows: this maps them, so the untraced cron script
# and the sandbox get a name in the allocation instead of "unattributed" (they stay untraced).
[attribution.projects]
{OPENAI_PROJECTS["triage"]} = "ticket-triage"
{OPENAI_PROJECTS["kb"]} = "kb-search"
{OPENAI_PROJECTS["scripts"]} = "sla-report"
{ANTHROPIC_ORG_WORKSPACES["support"]} = "support-chat"
{ANTHROPIC_ORG_WORKSPACES["sandbox"]} = "sandbox"

[attribution.teams]
support-chat = "support"
ticket-triage = "ops"
nightly-digest = "ops"
sla-report = "ops"
kb-search = "platform"
eval-harness = "platform"
"""


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "sample_data" / "demo")
    args = ap.parse_args(list(argv) if argv is not None else None)
    files = build()
    for rel, data in files.items():
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total:,} bytes, to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
