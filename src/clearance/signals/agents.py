"""Known AI crawler tokens and what each one's robots.txt group reserves.

The table comes from the community list ai-robots-txt/ai.robots.txt
(``clearance/data/ai-robots.json``, MIT), copied into the package so nothing is
fetched at run time. Each token is classed by its stated function:

* ``training``: crawlers that gather training data (GPTBot, CCBot, Google-Extended...).
  A site that disallows a path for them has reserved ``train-ai`` for that path.
* ``ai-input``: AI search crawlers, assistants and agents acting for a user
  (OAI-SearchBot, ChatGPT-User, PerplexityBot...). Disallowing them reserves ``ai-input``.

The tokens the protocol digest names are pinned to their class whatever the
community list says, so a wording change upstream cannot reclassify them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from clearance.core.usage import Usage


class AgentClass(StrEnum):
    TRAINING = "training"
    AI_INPUT = "ai-input"


@dataclass(frozen=True, slots=True)
class KnownAgent:
    token: str
    agent_class: AgentClass
    operator: str
    function: str

    @property
    def usage(self) -> Usage:
        return Usage.TRAIN_AI if self.agent_class is AgentClass.TRAINING else Usage.AI_INPUT


PINNED: dict[str, AgentClass] = {
    **{
        t.lower(): AgentClass.TRAINING
        for t in (
            "GPTBot",
            "ClaudeBot",
            "CCBot",
            "Google-Extended",
            "Applebot-Extended",
            "meta-externalagent",
            "Bytespider",
            "cohere-training-data-crawler",
            "AI2Bot",
            "anthropic-ai",
        )
    },
    **{
        t.lower(): AgentClass.AI_INPUT
        for t in (
            "OAI-SearchBot",
            "Claude-SearchBot",
            "PerplexityBot",
            "ChatGPT-User",
            "Claude-User",
            "Perplexity-User",
        )
    },
}

_INPUT_WORDS = re.compile(r"search|assistant|agent|user|answer|retriev|prompt", re.I)
_TRAIN_WORDS = re.compile(r"train|scrap|data|llm|learning|model", re.I)


def _classify(token: str, function: str) -> AgentClass:
    pinned = PINNED.get(token.lower())
    if pinned is not None:
        return pinned
    if _TRAIN_WORDS.search(function):
        return AgentClass.TRAINING
    if _INPUT_WORDS.search(function):
        return AgentClass.AI_INPUT
    return AgentClass.TRAINING  # an unknown AI crawler is most conservatively a training one


@cache
def known_agents() -> dict[str, KnownAgent]:
    """Every known AI crawler, keyed by lower-case product token."""
    table = resources.files("clearance.data").joinpath("ai-robots.json")
    raw = json.loads(table.read_text("utf-8"))
    out: dict[str, KnownAgent] = {}
    for token, info in raw.items():
        function = str(info.get("function", "")) if isinstance(info, dict) else ""
        operator = str(info.get("operator", "")) if isinstance(info, dict) else ""
        out[token.lower()] = KnownAgent(token, _classify(token, function), operator, function)
    for token, cls in PINNED.items():
        out.setdefault(token, KnownAgent(token, cls, "", "pinned by Clearance"))
    return out


def training_tokens() -> tuple[str, ...]:
    return tuple(a.token for a in known_agents().values() if a.agent_class is AgentClass.TRAINING)
