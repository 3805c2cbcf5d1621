"""Normalise provider and model names as traces and logs write them, so calls join to prices.

Usage::

    from costlab.names import normalise_model, normalise_provider
    provider = normalise_provider("gcp.vertex_ai")                  # "google"
    model = normalise_model(provider, "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash")
    # "gemini-2.5-flash"; pass azure_deployments={"prod-chat": "gpt-4o-2024-08-06"} for Azure

Model rules, applied in order (docs/sources.md):

1. Whitespace trimmed; an Azure deployment name found in ``azure_deployments`` (config key
   ``azure_deployments``: deployment -> model) is replaced by its model when the provider is Azure
   or unknown. Azure responses usually carry the real model, so this matters for request models.
2. A resource path or ARN keeps its last segment: Vertex ``projects/../models/gemini-2.5-flash``,
   Gemini API ``models/gemini-1.5-pro``, Bedrock ``arn:aws:bedrock:..:inference-profile/<id>``
   and ``..:foundation-model/<id>``. A router prefix naming a known provider (``openai/gpt-4o``,
   ``vertex_ai/gemini-pro``, ``bedrock/anthropic.claude..``) is dropped too; other ``org/model`` ids
   (Hugging Face) are kept whole.
3. Bedrock ids: the cross-region inference-profile prefix (``us.``, ``eu.``, ``apac.``, ``global.``,
   ``us-gov.``, ``jp.``, ``au.``, ``ca.``) is dropped. For Anthropic models the ``anthropic.`` vendor
   prefix and the ``-v1:0`` version suffix are dropped as well (not the ``v`` of ``claude-v2:1``) (``us.anthropic.claude-3-5-sonnet-
   20240620-v1:0`` -> ``claude-3-5-sonnet-20240620``), giving Anthropic's own id; other vendors keep
   the Bedrock id (``amazon.nova-pro-v1:0``, ``meta.llama3-1-70b-instruct-v1:0``), which is the name
   price lists use. The provider (``aws.bedrock``) still says where the call ran; note the regional
   vs global price difference is not in the model name any more, so callers keep the raw name too.
4. Vertex publisher versions ``claude-opus-4-1@20250805`` become ``claude-opus-4-1-20250805``.

Case is kept (model ids are lower-case in practice). Dated snapshots are never collapsed to an alias:
``gpt-4o-2024-08-06`` and ``gpt-4o`` may be priced differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ROUTER_PREFIXES = frozenset(
    "openai azure azure_ai anthropic bedrock aws vertex_ai vertex gemini google google_genai mistral "
    "mistralai groq xai x-ai deepseek cohere together_ai fireworks_ai openrouter".split()
)
_GEO = re.compile(r"^(us|eu|apac|global|us-gov|jp|au|ca)\.(?=[a-z0-9-]+\.)")
_ANTHROPIC_BEDROCK = re.compile(r"^anthropic\.(claude[a-z0-9.-]*?)(-v\d+(?::\d+)?)?$")
_VERTEX_VERSION = re.compile(r"^(claude[a-z0-9.-]*)@(\d{8})$")

_VERCEL_APIS = frozenset(
    "chat messages responses completion embedding textembedding generative-ai image".split()
)
_PROVIDERS = {
    "openai": "openai",
    "openai.chat": "openai",
    "openai.responses": "openai",
    "anthropic": "anthropic",
    "anthropic.messages": "anthropic",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "az.ai.inference": "azure",
    "azure.ai.inference": "azure",
    "azure": "azure",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "azure.chat": "azure",
    "aws": "aws.bedrock",
    "aws.bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "amazon": "aws.bedrock",
    "gcp.gen_ai": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gemini": "google",
    "google": "google",
    "google.generative-ai": "google",
    "google.vertex": "google",
    "google.vertex.chat": "google",
    "google_genai": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "vertex": "google",
    "google-gla": "google",  # pydantic-ai
    "google-vertex": "google",
    "gcp.vertex.agent": "google",  # google-adk
    "google_vertexai": "google",  # LangChain ls_provider
    "google_anthropic_vertex": "google",
    "bedrock_converse": "aws.bedrock",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "mistral": "mistral",
    "x_ai": "xai",
    "xai": "xai",
    "ibm.watsonx.ai": "ibm",
}


def normalise_provider(raw: str | None) -> str | None:
    """Lower-case canonical provider: openai, anthropic, azure, aws.bedrock, google, mistral, xai,
    ... (OTel `gen_ai.provider.name` / deprecated `gen_ai.system` values, OpenInference `llm.provider`,
    Vercel `ai.model.provider` like ``openai.chat``). Unknown names are lower-cased and kept."""
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip().lower()
    if text in _PROVIDERS:
        return _PROVIDERS[text]
    head, _, api = text.partition(".")  # Vercel "<provider>.<api>", e.g. "groq.chat"
    if head in _PROVIDERS:
        return _PROVIDERS[head]
    return head if api in _VERCEL_APIS else text


def normalise_model(
    provider: str | None, raw: str, azure_deployments: Mapping[str, str] | None = None
) -> str:
    """The canonical model id for ``raw`` as written by ``provider`` (rules in the module doc)."""
    name = raw.strip()
    prov = normalise_provider(provider)
    if azure_deployments:
        bare = name[6:] if name.lower().startswith("azure/") else name  # LiteLLM "azure/<dep>"
        if (prov in ("azure", None) or bare != name) and bare in azure_deployments:
            return str(azure_deployments[bare]).strip()
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    elif "/" in name:
        if "models/" in name:
            name = name.rsplit("models/", 1)[-1]
        head, _, tail = name.partition("/")
        if head.lower() in _ROUTER_PREFIXES and tail:
            name = tail
    name = _GEO.sub("", name)
    m = _ANTHROPIC_BEDROCK.match(name)
    if m:  # claude-v2:1 and claude-instant-v1 are Claude 2.1 / Instant: the "v" is the model
        name = m.group(1) if m.group(1) not in ("claude", "claude-instant") else name[10:]
    m = _VERTEX_VERSION.match(name)
    if m:
        name = f"{m.group(1)}-{m.group(2)}"
    return name
