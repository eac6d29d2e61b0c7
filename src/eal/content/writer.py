"""Writing a blog draft: the configured LLM first (when allowed), the embedded composer otherwise.

The embedded composer (`eal.ai.blog`) is offline, deterministic and fast, and it is always
the fallback: an LLM that fails, times out, answers something that is not the JSON asked
for, or writes a post that fails one of the SEO checks (`check_blog`) is not used, and the
embedded draft is. `provider` says which one wrote the post: "embedded" or "llm:<model>".
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eal.ai.blog import (
    BlogDraft,
    BlogRequest,
    SeoCheck,
    check_blog,
    compose_blog,
    count_words,
    outline_from_markdown,
    read_time_minutes,
    slugify,
)
from eal.ai.llm import LlmConfig

log = structlog.get_logger(__name__)

EMBEDDED = "embedded"
#: A long post takes an LLM far longer than a classification: at least this long is allowed.
MIN_LLM_SECONDS = 120.0

SYSTEM_PROMPT = """\
You write blog posts for a property restoration franchise (water, fire, mold, storm, \
sewage and biohazard work). Write correct, practical restoration advice for homeowners: \
no invented statistics, no medical claims, no prices, no promises about insurance \
coverage. Use Markdown: ## for sections and ### for sub-sections, no # title inside the \
body. Answer only with a JSON object {"title": ..., "meta_description": ..., \
"body_markdown": ...}: no other text."""


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=200)
    meta_description: str = Field(min_length=1, max_length=300)
    body_markdown: str = Field(min_length=1, max_length=100_000)


@dataclass(frozen=True)
class Written:
    """A draft and who wrote it."""

    draft: BlogDraft
    provider: str


def _user_message(request: BlogRequest) -> str:
    facts = {
        "target keyword": request.target_keyword,
        "service": request.service_type.replace("_", " "),
        "city": f"{request.city}, {request.region}",
        "postal code": request.postal_code or "unknown",
        "nearby places": ", ".join(request.nearby_places) or "none known",
        "business name": request.organization_name,
        "business phone": request.phone or "none",
        "business website": request.website or "none",
        "length": f"about {request.word_count_target} words (within 10%)",
    }
    lines = [f"- {name}: {' '.join(str(value).split())[:200]}" for name, value in facts.items()]
    rules = (
        "Rules: the title has the keyword and at most 70 characters; the meta description "
        "has the keyword and at most 160 characters; the keyword is in the first paragraph "
        "and in at least one ## heading; mention the city, the region and nearby places; "
        "include a ## FAQ section with at least three ### questions; end with a call to "
        "action naming the business and its phone."
    )
    return "Write a blog post.\n" + "\n".join(lines) + "\n" + rules


def _base_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if urlsplit(base).path.endswith("/v1") else base + "/v1"


async def _ask_llm(config: LlmConfig, http: httpx.AsyncClient, request: BlogRequest) -> _Answer:
    import openai  # only a server with an LLM loads its client

    client = openai.AsyncOpenAI(
        base_url=_base_url(config.base_url),
        api_key=config.api_key or "none",
        http_client=cast(Any, http),
        timeout=max(config.timeout_seconds, MIN_LLM_SECONDS),
        max_retries=0,
    )
    async with asyncio.timeout(max(config.timeout_seconds, MIN_LLM_SECONDS)):
        completion = await client.chat.completions.create(
            model=config.model,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": _user_message(request)},
            ],
            temperature=0.4,
            response_format={"type": "json_object"},
        )
    content = (completion.choices[0].message.content or "").strip()
    fenced = re.match(r"\A```[A-Za-z]*\s*\n?(.*?)\n?\s*```\Z", content, re.DOTALL)
    return _Answer.model_validate(json.loads(fenced.group(1) if fenced else content))


def _draft_of(answer: _Answer, request: BlogRequest) -> tuple[BlogDraft, tuple[SeoCheck, ...]]:
    checks = check_blog(answer.title, answer.meta_description, answer.body_markdown, request)
    words = count_words(answer.body_markdown)
    draft = BlogDraft(
        title=answer.title,
        meta_description=answer.meta_description,
        slug=slugify(answer.title),
        outline=outline_from_markdown(answer.body_markdown),
        body_markdown=answer.body_markdown,
        word_count=words,
        estimated_read_time_min=read_time_minutes(words),
        seo_checks=checks,
    )
    return draft, checks


async def write_blog(
    request: BlogRequest,
    *,
    llm: LlmConfig | None,
    http: httpx.AsyncClient,
    avoid: Collection[str] = (),
) -> Written:
    """A draft for `request`: the LLM's when `llm` is given and its post passes every check.

    `avoid` (sentence keys, see ``eal.ai.blog.sentence_key``) reaches the embedded composer.
    """
    if llm is not None:
        try:
            answer = await _ask_llm(llm, http, request)
            draft, checks = _draft_of(answer, request)
        except (ValidationError, ValueError) as exc:
            log.warning("llm blog answer unusable; the embedded composer writes", error=str(exc))
        except Exception as exc:  # any failure of the server or its client: fall back
            log.warning(
                "llm blog failed; the embedded composer writes",
                error_type=type(exc).__name__,
                error=str(exc)[:200],
            )
        else:
            failed = [check.name for check in checks if not check.passed]
            if not failed:
                return Written(draft, f"llm:{llm.model}")
            log.warning("llm blog failed seo checks; the embedded composer writes", failed=failed)
    # In a thread: a long post is some CPU, and the worker's loop also serves requests.
    draft = await asyncio.to_thread(functools.partial(compose_blog, request, avoid=avoid))
    return Written(draft, EMBEDDED)
