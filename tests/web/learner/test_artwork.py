"""SVG artwork renders within a fixed pixel budget whatever its aspect ratio, and each artwork
is rendered once (issue 13): no anonymous request costs more than a bounded time and memory."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
from flask import Flask
from PIL import Image

from issuer.core.baking import unbake
from issuer.db import unit_of_work
from issuer.services import badge_class_admin, institutions
from issuer.services.images import SVG, CleanImage, check_image
from issuer.web.learner import artwork
from tests.web.learner.support import (
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)
from tests.web.staff.support import simple_badge

BUDGET = artwork.RENDER_SIZE


def _svg(attributes: str) -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" {attributes}>'
        '<rect x="0" y="0" width="100%" height="100%" fill="#000"/></svg>'
    ).encode()


#: Sizes an uploaded SVG may declare; each must render inside the budget.
EXTREME = {
    "1x100000": 'width="1" height="100000"',
    "100000x1": 'width="100000" height="1"',
    "viewbox-tall": 'viewBox="0 0 1 100000"',
    "viewbox-wide-narrow-width": 'viewBox="0 0 100000 1" width="5"',
    "viewbox-tall-huge-height": 'viewBox="0 0 1 100000" height="1e9"',
    "huge-square": 'width="1e9" height="1e9"',
    "huge-thin": 'width="1e30" height="1"',
    "physical-units": 'width="100cm" height="1mm"',
    "tiny": 'width="0.001" height="0.001"',
    "no-size": "",
}


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


class CountingRenderer:
    """Wraps the function that starts a rendering and counts the renderings."""

    def __init__(self, real: Callable[[str, int], bytes]) -> None:
        self.real = real
        self.calls: list[int] = []

    def __call__(self, text: str, size: int) -> bytes:
        self.calls.append(size)
        return self.real(text, size)


@pytest.fixture
def renderer(monkeypatch: pytest.MonkeyPatch) -> CountingRenderer:
    counting = CountingRenderer(artwork._run_renderer)
    monkeypatch.setattr(artwork, "_run_renderer", counting)
    # Outside an application the process-wide cache is used: start it empty.
    monkeypatch.setattr(artwork, "_fallback_cache", artwork.RenderCache())
    return counting


@pytest.mark.parametrize("attributes", EXTREME.values(), ids=EXTREME.keys())
def test_any_declared_size_renders_within_the_pixel_budget(
    renderer: CountingRenderer, attributes: str
) -> None:
    png = artwork.render_png(_svg(attributes))
    width, height = _size(png)
    assert 1 <= width <= BUDGET
    assert 1 <= height <= BUDGET
    assert width * height <= BUDGET * BUDGET
    # The longer side fills the box: the drawing keeps its proportions, only scaled.
    assert max(width, height) == BUDGET
    assert renderer.calls == [BUDGET]


def test_a_cleaned_upload_of_extreme_proportions_renders_within_the_budget(
    renderer: CountingRenderer,
) -> None:
    upload = check_image(_svg('width="1" height="100000"'), filename="tall.svg")
    assert _size(artwork.render_png(upload.data)) == (1, BUDGET)


def test_a_square_badge_still_fills_the_box(renderer: CountingRenderer) -> None:
    assert _size(artwork.render_png(_svg('width="40" height="40"'))) == (BUDGET, BUDGET)


def test_a_larger_size_than_the_budget_cannot_be_asked_for(renderer: CountingRenderer) -> None:
    assert _size(artwork.render_png(_svg('width="10" height="10"'), size=100_000)) == (
        BUDGET,
        BUDGET,
    )


def test_each_artwork_is_rendered_once(renderer: CountingRenderer) -> None:
    svg = _svg('width="10" height="20"')
    first = artwork.render_png(svg)
    assert artwork.render_png(svg) == first
    assert artwork.render_png(bytes(svg)) == first  # by content, not by object
    assert len(renderer.calls) == 1
    artwork.render_png(_svg('width="20" height="10"'))
    assert len(renderer.calls) == 2


def test_artwork_that_cannot_be_rendered_is_remembered_as_such(
    renderer: CountingRenderer,
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="1'
    for _ in range(3):
        with pytest.raises(artwork.ArtworkError, match="cannot be read"):
            artwork.render_png(svg)
    unrenderable = b'<svg xmlns="http://www.w3.org/2000/svg" width="0" height="10"/>'
    for _ in range(3):
        with pytest.raises(artwork.ArtworkError, match="cannot be rendered"):
            artwork.render_png(unrenderable)
    assert len(renderer.calls) == 1  # the unreadable one never reached the renderer


def _child_script(monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Replace what the child process runs after its limits are set (``artwork._RENDERER``)."""
    head, _, _ = artwork._RENDERER.partition("import resvg_py")
    monkeypatch.setattr(artwork, "_RENDERER", head + body)


def test_a_rendering_that_runs_too_long_is_stopped_and_remembered(
    renderer: CountingRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What 1.7 kB of nested <use> does to resvg for seconds, deterministically.
    _child_script(monkeypatch, "import time\ntime.sleep(60)\n")
    monkeypatch.setattr(artwork, "RENDER_TIMEOUT_S", 0.5)
    svg = _svg('width="10" height="10"')
    for _ in range(2):
        with pytest.raises(artwork.ArtworkError, match=r"takes more than 0\.5 s"):
            artwork.render_png(svg)
    assert len(renderer.calls) == 1


def test_a_rendering_cannot_take_more_memory_than_its_budget(
    renderer: CountingRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _child_script(monkeypatch, "hog = bytearray(2 * 1024 * 1024 * 1024)\n")
    with pytest.raises(artwork.ArtworkError, match=r"(?s)cannot be rendered: .*MemoryError"):
        artwork.render_png(_svg('width="10" height="10"'))


def test_a_renderer_that_cannot_start_is_not_remembered(
    renderer: CountingRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = artwork.sys.executable
    monkeypatch.setattr(artwork.sys, "executable", "/nonexistent/python")
    svg = _svg('width="10" height="10"')
    with pytest.raises(artwork.RenderUnavailableError):
        artwork.render_png(svg)
    monkeypatch.setattr(artwork.sys, "executable", python)
    assert _size(artwork.render_png(svg)) == (BUDGET, BUDGET)
    assert len(renderer.calls) == 2


def test_the_cache_is_bounded_in_entries_and_bytes() -> None:
    cache = artwork.RenderCache(max_entries=3, max_bytes=100)
    for index in range(5):
        cache.get_or_render(f"k{index}", lambda: b"x" * 10)
    assert len(cache) == 3
    assert cache.size_bytes == 30
    cache.get_or_render("big", lambda: b"x" * 90)
    # The oldest entries went to make room: one of 10 bytes is left beside the new one.
    assert cache.size_bytes == 100
    assert len(cache) == 2
    cache.get_or_render("too-big", lambda: b"x" * 101)  # larger than the whole cache: not kept
    assert cache.size_bytes <= 100
    rendered: list[str] = []

    def again() -> bytes:
        rendered.append("too-big")
        return b"x" * 101

    cache.get_or_render("too-big", again)
    assert rendered == ["too-big"]


def test_concurrent_first_requests_render_once() -> None:
    cache = artwork.RenderCache()
    started, release = threading.Event(), threading.Event()
    renders: list[int] = []

    def slow() -> bytes:
        renders.append(1)
        started.set()
        release.wait(5)
        return b"png"

    results: list[bytes] = []
    first = threading.Thread(target=lambda: results.append(cache.get_or_render("k", slow)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: results.append(cache.get_or_render("k", slow)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert results == [b"png", b"png"]
    assert renders == [1]


def _badge_with_artwork(app: Flask, slug: str, svg: bytes) -> None:
    with app.app_context(), unit_of_work() as session:
        badge_class_admin.create_badge_class(
            session,
            institutions.get_institution(session, "hamk"),
            simple_badge(slug),
            image=CleanImage(svg, SVG),
            published=True,
        )


def test_the_baked_png_of_extreme_artwork_is_bounded_and_rendered_once_per_artwork(
    app: Flask, world: World, renderer: CountingRenderer
) -> None:
    _badge_with_artwork(app, "tall-badge", _svg('width="1" height="100000"'))
    first = issue(app, badge="tall-badge", email="a@example.fi")
    second = issue(app, badge="tall-badge", email="b@example.fi")
    client = app.test_client()
    before = len(renderer.calls)
    answers = [
        client.get(f"/credentials/{credential_id}/badge.png")
        for credential_id in (first.id, second.id, first.id)
    ]
    for response in answers:
        assert response.status_code == 200
        assert _size(response.data) == (1, BUDGET)
        assert unbake(response.data) is not None
    # Three requests (two credentials of the same artwork): one rendering.
    assert len(renderer.calls) - before == 1
    # The application's cache holds it (registered by init_app, so bounded per application).
    assert len(app.extensions[artwork.EXTENSION]) == 1
