"""A stand-in for CompanyCam's API v2 on 127.0.0.1: projects, paged photos, tags, photo files.

It speaks the documented shapes (`eal.integrations.companycam`'s docstring):
bearer token, `GET /v2/projects/{id}`, `GET /v2/projects/{id}/photos?page&per_page`
(a JSON array), `GET /v2/photos/{id}/tags`, and serves each photo's file at
its `original` and `thumbnail` uris. Tests add photos later (a re-import),
fail the next requests, and read what it received.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.integrations.stand_in import Received, Reply, StandInServer

_ids = itertools.count(7_000_001)


@dataclass
class FakePhoto:
    """One photo the fake holds."""

    id: str
    data: bytes
    captured_at: datetime | None
    coordinates: tuple[float, float] | None
    tags: list[str]
    description: str | None


@dataclass
class FakeCompanyCam:
    """The state of the fake, and what it received."""

    api_key: str
    port: int
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    photos: dict[str, list[FakePhoto]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    tags_inline: bool = False

    @property
    def base_url(self) -> str:
        """The API's base URL (settings.integrations.companycam.base_url)."""
        return f"http://127.0.0.1:{self.port}/v2"

    def add_project(
        self,
        project_id: str,
        *,
        address: dict[str, Any] | None = None,
        coordinates: tuple[float, float] | None = None,
    ) -> None:
        """A project with no photos yet."""
        self.projects[project_id] = {
            "id": project_id,
            "name": f"Project {project_id}",
            "address": address or {},
            "coordinates": {"lat": coordinates[0], "lon": coordinates[1]} if coordinates else None,
        }
        self.photos.setdefault(project_id, [])

    def add_photo(
        self,
        project_id: str,
        data: bytes,
        *,
        captured_at: datetime | None = None,
        coordinates: tuple[float, float] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
    ) -> str:
        """Add a photo to the project; its CompanyCam id."""
        photo = FakePhoto(
            str(next(_ids)), data, captured_at, coordinates, list(tags or []), description
        )
        self.photos[project_id].append(photo)
        return photo.id

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses."""
        self.failures.extend(statuses)

    def requests(self, path_prefix: str) -> list[Received]:
        """The requests received whose path starts with `path_prefix`."""
        return [r for r in self.received if r.path.startswith(path_prefix)]

    def _photo_json(self, photo: FakePhoto) -> dict[str, Any]:
        files = f"http://127.0.0.1:{self.port}/files/{photo.id}"
        body: dict[str, Any] = {
            "id": photo.id,
            "processing_status": "processed",
            "captured_at": int(photo.captured_at.timestamp()) if photo.captured_at else None,
            "coordinates": (
                {"lat": photo.coordinates[0], "lon": photo.coordinates[1]}
                if photo.coordinates
                else None
            ),
            "description": photo.description,
            "uris": [
                {"type": "original", "uri": f"{files}.jpg", "url": f"{files}.jpg"},
                {"type": "web", "uri": f"{files}.web.jpg", "url": f"{files}.web.jpg"},
                {"type": "thumbnail", "uri": f"{files}.thumb.jpg", "url": f"{files}.thumb.jpg"},
            ],
        }
        if self.tags_inline:
            body["tags"] = [
                {"id": str(i), "display_value": t, "value": t.lower()}
                for i, t in enumerate(photo.tags)
            ]
        return body

    async def handle(self, request: Received) -> Reply:
        """Answer one request as CompanyCam would."""
        self.received.append(request)
        if self.failures:
            status = self.failures.pop(0)
            headers = (("Retry-After", "7"),) if status == 429 else ()
            return Reply.json(status, {"errors": ["failure"]}, headers)
        parts = request.path.strip("/").split("/")
        if parts[0] == "files":
            photo_id = parts[1].split(".")[0]
            for photo in itertools.chain.from_iterable(self.photos.values()):
                if photo.id == photo_id:
                    return Reply(200, photo.data, (("Content-Type", "image/jpeg"),))
            return Reply(404)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply.json(401, {"errors": ["Unauthorized"]})
        if parts[:2] == ["v2", "projects"] and len(parts) == 3:
            project = self.projects.get(parts[2])
            return (
                Reply.json(200, project) if project else Reply.json(404, {"errors": ["Not found"]})
            )
        if parts[:2] == ["v2", "projects"] and len(parts) == 4 and parts[3] == "photos":
            if parts[2] not in self.projects:
                return Reply.json(404, {"errors": ["Not found"]})
            page = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "50"))
            chosen = self.photos[parts[2]][(page - 1) * per_page : page * per_page]
            return Reply.json(200, [self._photo_json(p) for p in chosen])
        if parts[:2] == ["v2", "photos"] and len(parts) == 4 and parts[3] == "tags":
            for photo in itertools.chain.from_iterable(self.photos.values()):
                if photo.id == parts[2]:
                    return Reply.json(
                        200,
                        [
                            {"id": str(i), "display_value": t, "value": t.lower()}
                            for i, t in enumerate(photo.tags)
                        ],
                    )
            return Reply.json(404, {"errors": ["Not found"]})
        return Reply.json(404, {"errors": ["Not found"]})


@contextmanager
def run_fake_companycam(api_key: str) -> Iterator[FakeCompanyCam]:
    """The fake, listening on 127.0.0.1 until the block ends."""
    server = StandInServer("fake-companycam")
    port = server.start()
    fake = FakeCompanyCam(api_key, port)
    server.serve(fake.handle)
    try:
        yield fake
    finally:
        server.stop()
