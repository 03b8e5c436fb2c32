"""`slugprof analyze --generation fir`: an image for arm64 dynos, offline against a loopback index, with a
real gzip level 1 of the same files as ground truth."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from clirun import CP, analyze_resolved, packages_of, report_of, run_slugprof, write_app
from indexserver import IndexServer, serve_index
from wheelfactory import build_wheel

from slugprof.measure.compress import MODEL_BIAS_BYTES, MODEL_BIAS_GROUP, estimate_compressed
from slugprof.model import AnalyzeReport, TarGroup, TarMember
from slugprof.model.saved import read_report
from slugprof.render.html import render_html
from slugprof.render.markdown import render_markdown
from slugprof.render.terminal import render_terminal
from slugprof.units import format_bytes

pytestmark = pytest.mark.slow

ARM = f"{CP}-{CP}-manylinux_2_17_aarch64.manylinux2014_aarch64"
INTEL = f"{CP}-{CP}-manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    folder = tmp_path_factory.mktemp("wheels")
    # The same release for both architectures, of different sizes: the size says which one was chosen.
    build_wheel(
        folder, "native", files={"native/__init__.py": "", "native/_core.so": os.urandom(400_000)}, tag=ARM
    )
    build_wheel(
        folder, "native", files={"native/__init__.py": "", "native/_core.so": os.urandom(40_000)}, tag=INTEL
    )
    with serve_index(folder) as server:
        yield server


def _text(seed: int, lines: int) -> str:
    return "".join(
        f"def handler_{seed}_{n}(request):\n    return {{'status': {n % 7}, 'seed': {seed}}}\n"
        for n in range(lines)
    )


def fir_app(root: Path, index: IndexServer) -> Path:
    files = {
        "requirements.txt": f"--index-url {index.url}\nnative\n",
        ".slugignore": "tests\n",
        "tests/test_app.py": "def test_app():\n    assert True\n",
        "project.toml": '[_]\nschema-version = "0.2"\n\n[io.buildpacks]\nexclude = ["data/", "*.log"]\n',
        "data/model.bin": "weights " * 50_000,
        "debug.log": "started\n" * 1000,
    }
    files.update({f"app/views_{n}.py": _text(n, 400 + 40 * n) for n in range(12)})
    return write_app(root, files)


def _ground_truth_gzip_1(root: Path, paths: list[str]) -> int:
    """gzip level 1 of a GNU tar of exactly these files, under ./, as the image tooling compresses a layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(paths):
            tar.add(root / path, arcname=f"./{path}", recursive=False)
    return len(gzip.compress(buffer.getvalue(), compresslevel=1))


def test_analyze_for_fir_takes_project_toml_not_slugignore_arm64_wheels_and_no_slug_limit(
    tmp_path: Path, index: IndexServer
) -> None:
    app = fir_app(tmp_path / "app", index)
    report = report_of(analyze_resolved(app, tmp_path / "cache", "--generation", "fir"))
    assert report["generation"] == "fir"
    files = {file["path"]: file for file in report["app"]["files"]}
    # project.toml's exclude decides: data/ and the log are gone.
    for gone in ("data/model.bin", "debug.log"):
        assert files[gone]["included"] is False
        assert files[gone]["excluded_by"].startswith("project.toml [io.buildpacks] exclude")
    # .slugignore is not applied, and the report says so.
    assert files["tests/test_app.py"]["included"] is True
    assert report["app"]["slugignore"] == []
    assert any(".slugignore is not applied on Fir" in note for note in report["notes"])
    # Resolved for an arm64 dyno: the aarch64 wheel, ten times the x86_64 one.
    assert report["dependencies"]["target"]["arch"] == "arm64"
    assert packages_of(report)["native"]["bytes"] > 400_000
    # The image: its layers, no pip, and no limit.
    image = report["image"]
    assert image["compression_level"] == 1 and image["limit_bytes"] is None
    assert [layer["name"] for layer in image["layers"]] == ["python", "dependencies", "app"]
    assert not {finding["id"] for finding in report["findings"]} & {
        "SLUG200",
        "SLUG201",
        "SLUG202",
        "SLUG210",
    }
    assert not [part for part in report["buildpack"] if part["name"] in ("pip", "setuptools", "profile.d")]
    # The app layer against a real gzip -1 of the same files, within the model's stated bound for a group.
    included = [path for path, file in files.items() if file["included"]]
    truth = _ground_truth_gzip_1(app, included)
    app_layer = next(layer for layer in image["layers"] if layer["name"] == "app")
    assert abs(app_layer["compressed_bytes"] - truth) <= MODEL_BIAS_GROUP * truth + MODEL_BIAS_BYTES, (
        app_layer,
        truth,
    )
    assert app_layer["bytes"] == sum(files[path]["bytes"] for path in included)


def test_the_terminal_report_says_no_image_limit_and_no_slug_verdict(
    tmp_path: Path, index: IndexServer
) -> None:
    app = fir_app(tmp_path / "app", index)
    result = analyze_resolved(app, tmp_path / "cache", "--generation", "fir", "--format", "terminal")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "no image size limit is documented" in text
    assert "layers at gzip -1" in text
    assert "limit (" not in text and "Slug " not in text  # no slug against a limit


def test_the_sampled_model_at_level_1_is_within_its_bound_of_real_gzip_1(tmp_path: Path) -> None:
    """A tree large enough to be sampled (the standard library's email and json packages, a few times
    over under different names): the estimate at level 1 against gzip level 1 of the same tar stream."""
    source = Path(os.__file__).parent
    members = []
    for copy in range(6):
        for package in ("email", "json", "asyncio", "unittest", "xml"):
            for path in sorted((source / package).rglob("*.py")):
                arcname = f"copy{copy}/{path.relative_to(source).as_posix()}"
                members.append(TarMember(arcname, TarGroup.app(), path.stat().st_size, str(path)))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member in sorted(members, key=lambda m: m.arcname):
            assert member.path is not None
            tar.add(member.path, arcname=f"./{member.arcname}", recursive=False)
    truth = len(gzip.compress(buffer.getvalue(), compresslevel=1))
    estimate = estimate_compressed(members, level=1, workers=2)
    assert estimate.sampled_bytes < estimate.tar_bytes  # sampled, not compressed whole
    assert abs(estimate.compressed_bytes - truth) <= estimate.error_bytes, (estimate.compressed_bytes, truth)


class _Text(HTMLParser):
    """The text of an HTML fragment, as a browser shows it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.feed(html)
        self.close()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _element_text(html: str, tag: str, pattern: str) -> str:
    match = re.search(rf"<{tag}[^>]*{pattern}[^>]*>(.*?)</{tag}>", html, re.DOTALL)
    assert match is not None, pattern
    return " ".join("".join(_Text(match.group(1)).parts).split())


def test_the_html_verdict_says_image_and_no_limit_as_the_terminal_and_markdown_do(
    tmp_path: Path, index: IndexServer
) -> None:
    app = fir_app(tmp_path / "app", index)
    report = read_report(
        json.dumps(report_of(analyze_resolved(app, tmp_path / "cache", "--generation", "fir")))
    )
    assert isinstance(report, AnalyzeReport) and report.image is not None
    html = render_html(report, None)
    verdict = _element_text(html, "p", 'id="verdict"')
    terminal = next(
        line for line in render_terminal(report, width=400).splitlines() if line.startswith("Fir: ")
    )
    assert verdict.startswith(" ".join(terminal.split()) + ";"), (verdict, terminal)
    markdown = next(line for line in render_markdown(report).splitlines() if line.startswith("**Fir**: "))
    assert markdown.removeprefix("**Fir**: ").split(" · ")[0].replace("\\", "") in verdict
    assert "no image size limit is documented" in verdict and "layers at gzip -1" in verdict
    # No slug against its limit, and the section is the image's.
    assert "slug is" not in verdict and f"{format_bytes(report.slug.limit_bytes)} limit" not in verdict
    assert _element_text(html[html.index('<section id="treemap">') :], "h2", "") == "What is in the image"
    assert 'aria-label="treemap of the image"' in html
    assert 'aria-label="treemap path"><span>image</span>' in html  # the zoom path starts at the image
    assert "<summary>What is in the image</summary>" in render_markdown(report)
    assert "What is in the slug" not in render_markdown(report)


def test_amd64_asked_of_fir_is_a_usage_error_not_a_silent_arm64(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": ""})
    result = run_slugprof("analyze", app, "--generation", "fir", "--arch", "amd64", "-q")
    assert result.returncode == 2
    assert "Fir dynos run on arm64" in result.stderr and "Traceback" not in result.stderr
