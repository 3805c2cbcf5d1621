"""costlab.names: provider and model name normalisation (rules in the module docstring)."""

from __future__ import annotations

import pytest

from costlab.names import normalise_model, normalise_provider

DEPLOYMENTS = {"prod-chat": "gpt-4o-2024-08-06"}


@pytest.mark.parametrize(
    "provider,raw,expected",
    [
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("openai", " gpt-4o ", "gpt-4o"),
        # Vertex resource paths and the Gemini API "models/" prefix
        (
            "gcp.vertex_ai",
            "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash",
            "gemini-2.5-flash",
        ),
        ("gemini", "models/gemini-1.5-pro", "gemini-1.5-pro"),
        ("vertex_ai", "claude-opus-4-1@20250805", "claude-opus-4-1-20250805"),
        # Bedrock ids, inference profiles, ARNs
        (
            "aws.bedrock",
            "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "claude-3-5-sonnet-20240620",
        ),
        ("aws.bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"),
        (
            "aws.bedrock",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-sonnet-4-5-20250929",
        ),
        ("aws.bedrock", "apac.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
        (
            None,
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0",
            "claude-sonnet-4-20250514",
        ),
        (
            "aws",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            "claude-3-haiku-20240307",
        ),
        ("aws.bedrock", "anthropic.claude-v2:1", "claude-v2:1"),
        ("aws.bedrock", "anthropic.claude-instant-v1", "claude-instant-v1"),
        ("aws.bedrock", "us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("aws.bedrock", "meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-70b-instruct-v1:0"),
        # router prefixes naming a provider are dropped, other org/model ids kept
        (None, "openai/gpt-4o", "gpt-4o"),
        (None, "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022"),
        (None, "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:org::abc", "ft:gpt-4o-mini-2024-07-18:org::abc"),
    ],
)
def test_normalise_model(provider, raw, expected):
    assert normalise_model(provider, raw) == expected


def test_azure_deployments():
    assert normalise_model("az.ai.openai", "prod-chat", DEPLOYMENTS) == "gpt-4o-2024-08-06"
    assert normalise_model("azure", "prod-chat", DEPLOYMENTS) == "gpt-4o-2024-08-06"
    assert normalise_model(None, "prod-chat", DEPLOYMENTS) == "gpt-4o-2024-08-06"
    assert normalise_model("openai", "prod-chat", DEPLOYMENTS) == "prod-chat"  # not an Azure call
    assert normalise_model("azure", "prod-chat") == "prod-chat"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("OpenAI", "openai"),
        ("openai.chat", "openai"),
        ("openai.responses", "openai"),
        ("anthropic.messages", "anthropic"),
        ("Anthropic", "anthropic"),
        ("az.ai.openai", "azure"),
        ("azure.ai.inference", "azure"),
        ("Azure", "azure"),
        ("AWS", "aws.bedrock"),
        ("aws.bedrock", "aws.bedrock"),
        ("amazon-bedrock", "aws.bedrock"),
        ("gcp.vertex_ai", "google"),
        ("gcp.gen_ai", "google"),
        ("google.generative-ai", "google"),
        ("vertex_ai", "google"),
        ("MistralAI", "mistral"),
        ("mistral_ai", "mistral"),
        ("x_ai", "xai"),
        ("groq.chat", "groq"),
        ("deepseek", "deepseek"),
        ("google-gla", "google"),
        ("gcp.vertex.agent", "google"),
        ("google_anthropic_vertex", "google"),
        ("bedrock_converse", "aws.bedrock"),
        ("microsoft.agent_framework", "microsoft.agent_framework"),
        ("", None),
        (None, None),
    ],
)
def test_normalise_provider(raw, expected):
    assert normalise_provider(raw) == expected
