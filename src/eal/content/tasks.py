"""Background work of content: composing blog drafts and publishing at a scheduled time."""

from __future__ import annotations

from eal import jobs
from eal.content.generation import COMPOSE_RETRY, ComposeBlog, compose
from eal.content.publishing import PUBLISH_RETRY, PublishContent, publish_scheduled
from eal.content.service import BLOG_TASK, PUBLISH_TASK

jobs.task(BLOG_TASK, payload=ComposeBlog, retry=COMPOSE_RETRY)(compose)
jobs.task(PUBLISH_TASK, payload=PublishContent, retry=PUBLISH_RETRY)(publish_scheduled)

__all__ = ["compose", "publish_scheduled"]
