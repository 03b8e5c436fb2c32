"""Swaps (DEP31x) end to end: two loopback indexes stand for PyPI and PyTorch's CPU index, serving
wheels the test builds; each swap's saving is the model run on the requirements resolved again with
the fix, checked against an analysis of the app with the fix applied and against a real pip install
of both package sets (tar | gzip -6)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clirun import CP, analyze_resolved, packages_of, report_of, write_app
from indexserver import IndexServer, serve_index
from test_cli_resolve import _real_install
from wheelfactory import build_sdist, build_wheel

from slugprof.measure.slug import RESOLVED_MODEL_ERROR

pytestmark = pytest.mark.slow  # each test resolves with uv, several times

LINUX = f"{CP}-{CP}-manylinux_2_17_x86_64"


def _native(name: str, size: int) -> dict[str, str | bytes]:
    """A package with `size` bytes of incompressible extension module, like a CUDA library."""
    module = name.replace("-", "_")
    return {f"{module}/__init__.py": "", f"{module}/_lib.so": os.urandom(size)}


@pytest.fixture(scope="module")
def pypi_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pypi")
    build_wheel(
        folder,
        "torch",
        "2.0.0",
        files=_native("torch", 900_000),
        requires=["nvidia-cublas-cu12", "triton"],
        tag=LINUX,
    )
    build_wheel(folder, "nvidia-cublas-cu12", "12.1", files=_native("nvidia_cublas", 1_500_000), tag=LINUX)
    build_wheel(folder, "triton", "2.0.0", files=_native("triton", 700_000), tag=LINUX)
    build_wheel(folder, "embedder", "3.0", requires=["torch>=1.11"])
    build_wheel(folder, "tensorflow", "2.15.0", files=_native("tensorflow", 1_200_000), tag=LINUX)
    build_wheel(folder, "tensorflow-cpu", "2.15.0", files=_native("tensorflow", 500_000), tag=LINUX)
    build_wheel(folder, "gpu-arrays", "1.0", requires=["nvidia-cuda-runtime-cu12"])
    build_wheel(folder, "nvidia-cuda-runtime-cu12", "12.1", files=_native("nvidia_cuda", 800_000), tag=LINUX)
    opencv: dict[str, str | bytes] = {
        "cv2/__init__.py": "",
        "cv2/cv2.abi3.so": os.urandom(1_200_000),
        "cv2/qt/libQt.so": os.urandom(400_000),
    }
    build_wheel(folder, "opencv-python", "5.0.0.93", files=opencv, tag=LINUX)
    headless: dict[str, str | bytes] = {"cv2/__init__.py": "", "cv2/cv2.abi3.so": os.urandom(1_200_000)}
    build_wheel(folder, "opencv-python-headless", "5.0.0.93", files=headless, tag=LINUX)
    build_wheel(folder, "vision-kit", "1.0", requires=["opencv-python"])
    build_sdist(folder, "psycopg2", "2.9.10", files={"psycopg2/__init__.py": "# compiled against libpq\n"})
    build_wheel(folder, "psycopg2-binary", "2.9.10", files=_native("psycopg2", 400_000), tag=LINUX)
    return folder


@pytest.fixture(scope="module")
def cpu_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cpu")
    build_wheel(folder, "torch", "2.0.0+cpu", files=_native("torch", 300_000), tag=LINUX)
    return folder


@pytest.fixture(scope="module")
def pypi(pypi_wheels: Path) -> Iterator[IndexServer]:
    with serve_index(pypi_wheels) as server:
        yield server


@pytest.fixture(scope="module")
def cpu(cpu_wheels: Path) -> Iterator[IndexServer]:
    with serve_index(cpu_wheels) as server:
        yield server


def _analyzed(app: Path, cache: Path, cpu: IndexServer, *extra: str) -> dict[str, Any]:
    return report_of(analyze_resolved(app, cache, *extra, SLUGPROF_TORCH_CPU_INDEX=cpu.url))


def _finding(report: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in report["findings"] if f["id"] == rule_id]
    assert len(found) == 1, [f["id"] for f in report["findings"]]
    return found[0]


def _fixed(app: Path, finding: dict[str, Any], where: Path) -> Path:
    """A copy of the app's requirements.txt with the finding's edits applied, as a user would."""
    text = (app / "requirements.txt").read_text(encoding="utf-8")
    for edit in finding["fix"]["edits"]:
        assert edit["path"] == "requirements.txt"
        text = text + edit["new"] if edit["old"] is None else text.replace(edit["old"], edit["new"], 1)
    return write_app(where, {"requirements.txt": text})


def _saving_matches_the_fixed_app(
    report: dict[str, Any], finding: dict[str, Any], fixed: dict[str, Any]
) -> None:
    # The fixed app's requirements.txt is a few bytes longer: the only difference the swap's model run
    # does not see (it changes the dependencies, not the app's files).
    assert abs(finding["savings_bytes"] - (report["slug"]["bytes"] - fixed["slug"]["bytes"])) <= 200
    compressed = report["slug"]["compressed_bytes"] - fixed["slug"]["compressed_bytes"]
    assert abs(finding["savings_compressed_bytes"] - compressed) <= 200


def test_torch_from_the_default_index_swapped_for_the_cpu_build(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer, pypi_wheels: Path, cpu_wheels: Path
) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": f"--index-url {pypi.url}\ntorch==2.0.0\n"})
    report = _analyzed(app, tmp_path / "cache", cpu)
    finding = _finding(report, "DEP310")
    assert finding["evidence_class"] == "resolved"
    assert "nvidia-cublas-cu12, triton" in finding["evidence"][0]
    assert [(e["old"], e["new"]) for e in finding["fix"]["edits"]] == [
        ("torch==2.0.0\n", "torch==2.0.0+cpu\n"),
        (None, f"--extra-index-url {cpu.url}\n"),
    ]
    assert finding["location"] == {"path": "requirements.txt", "line": 2}

    fixed = _analyzed(_fixed(app, finding, tmp_path / "fixed"), tmp_path / "cache", cpu)
    assert set(packages_of(fixed)) == {"torch"} and packages_of(fixed)["torch"]["version"] == "2.0.0+cpu"
    assert not [f for f in fixed["findings"] if f["id"] == "DEP310"]
    _saving_matches_the_fixed_app(report, finding, fixed)

    # Ground truth: pip installs each set for real; the saving is the difference of tar | gzip -6.
    links = ("--find-links", str(cpu_wheels))
    before = _real_install(pypi_wheels, tmp_path / "real-before", "torch==2.0.0")
    after = _real_install(pypi_wheels, tmp_path / "real-after", *links, "torch==2.0.0+cpu")
    real_saving = before[1] - after[1]
    assert abs(finding["savings_compressed_bytes"] / real_saving - 1) < RESOLVED_MODEL_ERROR, (
        finding["savings_compressed_bytes"],
        real_saving,
    )


def test_torch_pulled_in_by_another_requirement_is_pinned_to_the_cpu_build(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer
) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": f"--index-url {pypi.url}\nembedder==3.0\n"})
    report = _analyzed(app, tmp_path / "cache", cpu)
    finding = _finding(report, "DEP310")
    assert "pulled in by embedder" in finding["title"]
    assert "torch is not a requirement of the app: embedder pulls it in" in finding["evidence"]
    assert [e["new"] for e in finding["fix"]["edits"]] == [
        f"--extra-index-url {cpu.url}\n",
        "torch==2.0.0+cpu  # the CPU-only build for embedder\n",
    ]
    fixed = _analyzed(_fixed(app, finding, tmp_path / "fixed"), tmp_path / "cache", cpu)
    assert set(packages_of(fixed)) == {"embedder", "torch"}
    _saving_matches_the_fixed_app(report, finding, fixed)
    assert finding["savings_compressed_bytes"] > 2_500_000  # the CUDA packages were 2.2 MB of random bytes


def test_a_cpu_build_of_torch_is_left_alone(tmp_path: Path, pypi: IndexServer, cpu: IndexServer) -> None:
    requirements = f"--index-url {pypi.url}\n--extra-index-url {cpu.url}\ntorch==2.0.0+cpu\n"
    report = _analyzed(
        write_app(tmp_path / "app", {"requirements.txt": requirements}), tmp_path / "cache", cpu
    )
    assert not [f for f in report["findings"] if f["id"] in ("DEP310", "DEP312")]


def test_tensorflow_swapped_for_tensorflow_cpu(tmp_path: Path, pypi: IndexServer, cpu: IndexServer) -> None:
    app = write_app(
        tmp_path / "app", {"requirements.txt": f"--index-url {pypi.url}\ntensorflow==2.15.0  # models\n"}
    )
    report = _analyzed(app, tmp_path / "cache", cpu)
    finding = _finding(report, "DEP311")
    assert [(e["old"], e["new"]) for e in finding["fix"]["edits"]] == [
        ("tensorflow==2.15.0  # models\n", "tensorflow-cpu==2.15.0  # models\n")
    ]
    fixed = _analyzed(_fixed(app, finding, tmp_path / "fixed"), tmp_path / "cache", cpu)
    assert set(packages_of(fixed)) == {"tensorflow-cpu"}
    _saving_matches_the_fixed_app(report, finding, fixed)
    assert 600_000 < finding["savings_compressed_bytes"] < 800_000  # 1.2 MB less 0.5 MB of random bytes


def test_cuda_packages_without_torch_are_named_with_what_pulls_them(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer
) -> None:
    requirements = f"--index-url {pypi.url}\ngpu-arrays==1.0\n"
    report = _analyzed(
        write_app(tmp_path / "app", {"requirements.txt": requirements}), tmp_path / "cache", cpu
    )
    finding = _finding(report, "DEP312")
    assert finding["evidence"] == ["installed: nvidia-cuda-runtime-cu12", "pulled in by gpu-arrays"]
    assert finding["change"]["packages"] == ["nvidia-cuda-runtime-cu12"]
    package = packages_of(report)["nvidia-cuda-runtime-cu12"]
    assert finding["savings_compressed_bytes"] == package["compressed_bytes"]


def test_a_swap_that_cannot_be_resolved_offline_says_so(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer
) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": f"--index-url {pypi.url}\ntorch==2.0.0\n"})
    cache = tmp_path / "cache"
    _analyzed(app, cache, cpu)  # the app's own resolution is now cached; the swap's, for this index only
    elsewhere = "http://127.0.0.1:9/simple/"  # nothing listens on the discard port
    offline = report_of(analyze_resolved(app, cache, "--offline", SLUGPROF_TORCH_CPU_INDEX=elsewhere))
    finding = _finding(offline, "DEP310")
    assert finding["savings_compressed_bytes"] is None
    assert any(line.startswith("saving not measured: ") for line in finding["evidence"]), finding["evidence"]


def test_psycopg2_from_source_is_offered_the_binary_wheel_with_what_it_costs(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer
) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": f"--index-url {pypi.url}\npsycopg2==2.9.10\n"})
    report = _analyzed(app, tmp_path / "cache", cpu)
    finding = _finding(report, "DEP315")
    assert finding["severity"] == "info"
    assert [(e["old"], e["new"]) for e in finding["fix"]["edits"]] == [
        ("psycopg2==2.9.10\n", "psycopg2-binary==2.9.10\n")
    ]
    fixed = _analyzed(_fixed(app, finding, tmp_path / "fixed"), tmp_path / "cache", cpu)
    assert set(packages_of(fixed)) == {"psycopg2-binary"}
    assert not [f for f in fixed["findings"] if f["id"] == "DEP315"]
    _saving_matches_the_fixed_app(report, finding, fixed)
    assert finding["savings_compressed_bytes"] < 0  # the wheel bundles libpq: the swap costs bytes


def test_psycopg2_binary_is_left_alone(tmp_path: Path, pypi: IndexServer, cpu: IndexServer) -> None:
    requirements = f"--index-url {pypi.url}\npsycopg2-binary==2.9.10\n"
    report = _analyzed(
        write_app(tmp_path / "app", {"requirements.txt": requirements}), tmp_path / "cache", cpu
    )
    assert not [f for f in report["findings"] if f["id"].startswith("DEP31")]


def test_opencv_gui_build_imported_by_the_app_is_an_error_with_the_headless_swap_measured(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer
) -> None:
    files = {
        "requirements.txt": f"--index-url {pypi.url}\nopencv-python==5.0.0.93\n",
        "app.py": "def thumbnail(path):\n    import cv2\n\n    return cv2.imread(path)\n\napp = None\n",
    }
    app = write_app(tmp_path / "app", files)
    report = _analyzed(app, tmp_path / "cache", cpu)
    finding = _finding(report, "DEP313")
    assert finding["severity"] == "error" and "libGL.so.1" in finding["title"]
    assert not [f for f in report["findings"] if f["id"] == "DEP314"]
    fixed = _analyzed(_fixed(app, finding, tmp_path / "fixed"), tmp_path / "cache", cpu)
    assert set(packages_of(fixed)) == {"opencv-python-headless"}
    assert not [f for f in fixed["findings"] if f["id"] in ("DEP313", "DEP314")]
    _saving_matches_the_fixed_app(report, finding, fixed)
    assert 300_000 < finding["savings_compressed_bytes"] < 500_000  # the 400 kB of GUI libraries


def test_opencv_gui_build_not_imported_is_a_warning_and_a_dependency_that_needs_it_is_named(
    tmp_path: Path, pypi: IndexServer, cpu: IndexServer
) -> None:
    requirements = f"--index-url {pypi.url}\nopencv-python==5.0.0.93\nvision-kit==1.0\n"
    report = _analyzed(
        write_app(tmp_path / "app", {"requirements.txt": requirements}), tmp_path / "cache", cpu
    )
    finding = _finding(report, "DEP314")
    assert any(line.startswith("vision-kit require opencv-python") for line in finding["evidence"])
    assert not [f for f in report["findings"] if f["id"] == "DEP313"]
    # The swap alone leaves the GUI build installed (vision-kit needs it): the measured saving says so.
    assert finding["savings_compressed_bytes"] is not None and finding["savings_compressed_bytes"] < 0
