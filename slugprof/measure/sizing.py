"""What each resolved package will weigh in the slug, read from its wheel's zip central directory.

Each wheel's member list (`listings`) is laid out as the installer lays it out on the dyno
(`install_model`), and each file's share of the compressed slug predicted (`stream_model`, where the
model's calibration is). A source distribution is built into a wheel and measured (`build_sdists=True`),
or estimated from its download size. Whatever cannot be measured comes back with `measured=False`,
zero sizes and a method that says why: never a silent zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from slugprof.errors import ToolFailure
from slugprof.measure.checkout import CheckoutError, checkout_listing, editable_totals, is_vcs_url
from slugprof.measure.install_model import predict_installed
from slugprof.measure.installed_tree import install_files, measure_files
from slugprof.measure.listings import (
    InstalledSizes,
    ListingCache,
    ListingError,
    WholeWheel,
    build_sdist,
    fetch_wheel,
    installed_key,
    listing_key,
)
from slugprof.measure.modules import top_level_modules
from slugprof.measure.pyc_compiler import Compiler, compiler_for
from slugprof.measure.wheelzip import CorruptWheelError, WheelListing, listing_of
from slugprof.model import ResolvedFile, ResolvedPackage, SizedPackage, SizeMethod, Target
from slugprof.net import Client, NetError, NetworkFailure, host_of
from slugprof.progress import NoProgress, Progress


@dataclass(frozen=True)
class _SizeRatios:
    installed: float  # installed bytes (with .pyc) per byte of the download
    pyc: float  # .pyc bytes per byte of the download
    compressed: float  # share of the slug's gzip per byte of the download


# Measured on the fit set with Python 3.11 (see stream_model's calibration): the real installs against
# the download sizes. Pure-Python wheels: the median package (63 packages; they vary from 2x to 15x).
# Platform wheels: ratio of sums (33 packages), which the big ones dominate, as they do a slug. sdists:
# the median of 18 pure-Python sdists (installed/sdist from 0.26x for starlette, whose sdist holds docs
# and tests, to 11.8x for sympy); on 12 others (django, requests, flask...) the total was +6% installed,
# per package -53%..+216%.
PURE_WHEEL_RATIOS: Final = _SizeRatios(installed=7.83, pyc=4.06, compressed=2.33)
PLATFORM_WHEEL_RATIOS: Final = _SizeRatios(installed=3.50, pyc=0.41, compressed=1.13)
SDIST_RATIOS: Final = _SizeRatios(installed=3.12, pyc=1.41, compressed=1.00)


# Wheels up to this download size are read whole, installed and measured (`installed_tree`) when an
# interpreter of the target's Python is at hand; larger ones keep the model of their member list. On
# the benchmark's 55 wheels (benchmarks/bench_dependencies.py) the 47 under 1 MiB weigh 8.4 MB and hold
# nearly all of the model's per-package errors (idna +45%, boto3 +20% compressed); the 8 above it
# (psycopg-binary at 3.9 MB to scipy at 35 MB) are within 3.3% by the model.
SMALL_WHEEL_BYTES: Final = 1024 * 1024


def _wheel_ratios(filename: str) -> _SizeRatios:
    return PURE_WHEEL_RATIOS if filename.endswith("-none-any.whl") else PLATFORM_WHEEL_RATIOS


def _estimate(
    package: ResolvedPackage, size: int, ratios: _SizeRatios, method: SizeMethod, note: str | None
) -> SizedPackage:
    return SizedPackage(
        name=package.name,
        version=package.version,
        installed_bytes=round(size * ratios.installed),
        pyc_bytes=round(size * ratios.pyc),
        compressed_bytes=round(size * ratios.compressed),
        file_count=0,
        method=method,
        method_note=note,
    )


def _installed_sized(package: ResolvedPackage, sizes: InstalledSizes) -> SizedPackage:
    return SizedPackage(
        name=package.name,
        version=package.version,
        installed_bytes=sizes.installed,
        pyc_bytes=sizes.pyc,
        compressed_bytes=sizes.compressed,
        file_count=sizes.files,
        method=SizeMethod.INSTALLED_WHEEL,
        invalid_requires=sizes.invalid_requires,
        modules=sizes.modules,
    )


def _install_and_measure(
    package: ResolvedPackage, whole: WholeWheel, target: Target, cache: ListingCache
) -> SizedPackage:
    """A small wheel's files made as the installer makes them, and measured; a wheel the installer
    rules do not cover (no .dist-info) gets the model of its member list."""
    file = package.file
    compiler = compiler_for(target.python_minor)
    assert file is not None and compiler is not None
    files = install_files(whole.listing, whole.read, package, target, compiler)
    if files is None:
        listing = listing_of(list(whole.listing.members), whole.read, whole.listing.method)
        cache.put(listing_key(file), listing, file)
        return _sized(package, listing, target)
    totals = measure_files(files, target)
    sizes = InstalledSizes(
        installed=totals.installed,
        pyc=totals.pyc,
        compressed=round(totals.compressed),
        files=totals.files,
        modules=top_level_modules(member.name for member in whole.listing.members),
        invalid_requires=whole.listing.invalid_requires,
    )
    cache.put_installed(_installed_key(package, target, compiler), sizes, file)
    return _installed_sized(package, sizes)


def _installed_key(package: ResolvedPackage, target: Target, compiler: Compiler) -> str:
    assert package.file is not None
    return installed_key(package.file, target, compiler.version, requested=package.top_level)


def _not_measured(package: ResolvedPackage, reason: str) -> SizedPackage:
    return SizedPackage(package.name, package.version, 0, 0, 0, 0, SizeMethod.NOT_MEASURED, reason)


def _sized(package: ResolvedPackage, listing: WheelListing, target: Target) -> SizedPackage:
    totals = predict_installed(listing, package, target)
    return SizedPackage(
        name=package.name,
        version=package.version,
        installed_bytes=totals.installed,
        pyc_bytes=totals.pyc,
        compressed_bytes=round(totals.compressed),
        file_count=totals.files,
        method=listing.method,
        invalid_requires=listing.invalid_requires,
        modules=top_level_modules(member.name for member in listing.members),
    )


@dataclass
class _Outcome:
    sized: SizedPackage
    network_error: NetworkFailure | None = None
    used_network: bool = False


def size_packages(
    packages: Sequence[ResolvedPackage],
    target: Target,
    *,
    cache_dir: Path | None,
    offline: bool,
    build_sdists: bool,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
    workers: int = 8,
    install_up_to: int = SMALL_WHEEL_BYTES,
) -> list[SizedPackage]:
    """What each package will weigh in the slug once installed on `target`, in the order given.

    Wheels are measured from their zip central directory (HTTP ranges, or a download when ranges are
    not served), cached under `cache_dir` (None: no cache). `offline`: the cache only; other packages
    are estimated from their download size when the index gave it, else not measured. sdists are built
    (`build_sdists`) or estimated. A wheel of up to `install_up_to` bytes is read whole, installed and
    measured when an interpreter of the target's Python is at hand (0: the model for every wheel). A
    package that cannot be measured comes back with `measured=False`
    and the method NOT_MEASURED with the reason in `method_note`. Raises ToolFailure when the network
    failed for every package that needed it and nothing else could be measured.
    """
    cache = ListingCache(cache_dir)
    client = Client()
    progress.stage("Sizing packages", total=len(packages))
    outcomes: list[_Outcome | None] = [None] * len(packages)

    def work(package: ResolvedPackage) -> _Outcome:
        return _size_one(
            package,
            target,
            cache,
            client,
            offline=offline,
            build_sdists=build_sdists,
            install_up_to=install_up_to,
        )

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="slugprof-wheels") as pool:
            futures = {pool.submit(work, package): index for index, package in enumerate(packages)}
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                progress.advance()
    finally:
        client.close()

    done = [outcome for outcome in outcomes if outcome is not None]
    failures = [outcome.network_error for outcome in done if outcome.network_error is not None]
    reached = any(outcome.used_network and outcome.network_error is None for outcome in done)
    if failures and not reached and not any(outcome.sized.measured for outcome in done):
        hosts = ", ".join(sorted({error.host for error in failures}))
        raise ToolFailure(f"{failures[0]}; no package could be measured (hosts: {hosts})")
    return [outcome.sized for outcome in done]


def _size_one(
    package: ResolvedPackage,
    target: Target,
    cache: ListingCache,
    client: Client,
    *,
    offline: bool,
    build_sdists: bool,
    install_up_to: int,
) -> _Outcome:
    file = package.file
    if file is None:
        return _Outcome(_not_measured(package, "no installable file for the target"))
    if is_vcs_url(file.url):
        return _size_checkout(package, target, cache, client, offline=offline, build_sdists=build_sdists)
    if file.kind == "wheel":
        return _size_wheel(package, target, cache, client, offline=offline, install_up_to=install_up_to)
    if build_sdists:
        key = listing_key(file, prefix="built-")
        cached = cache.get(key)
        if cached is not None:
            return _Outcome(_sized(package, cached, target))
        if not offline:
            outcome = _network(package, lambda: build_sdist(client, file, cache), key, cache, target)
            if outcome.sized.measured or outcome.network_error is not None:
                return outcome
            reason = outcome.sized.method_note
            return _sdist_estimate(package, file, client, offline=offline, why=f"build failed: {reason}")
        return _sdist_estimate(package, file, client, offline=offline, why="offline: not built")
    return _sdist_estimate(package, file, client, offline=offline, why=None)


def _size_wheel(
    package: ResolvedPackage,
    target: Target,
    cache: ListingCache,
    client: Client,
    *,
    offline: bool,
    install_up_to: int,
) -> _Outcome:
    file = package.file
    assert file is not None
    key = listing_key(file)
    compiler = compiler_for(target.python_minor) if install_up_to > 0 else None
    whole_up_to = install_up_to if compiler is not None else 0
    if compiler is not None and (file.size is None or file.size <= whole_up_to):
        installed = cache.get_installed(_installed_key(package, target, compiler))
        if installed is not None:
            return _Outcome(_installed_sized(package, installed))
    cached = cache.get(key)
    if cached is not None:
        return _Outcome(_sized(package, cached, target))
    if offline:
        if file.size:
            return _Outcome(
                _estimate(
                    package,
                    file.size,
                    _wheel_ratios(file.filename),
                    SizeMethod.ESTIMATED_FROM_WHEEL_SIZE,
                    "offline, not in the cache",
                )
            )
        return _Outcome(_not_measured(package, "offline and not in the cache"))
    fetch = lambda: fetch_wheel(client, file, cache, whole_up_to=whole_up_to)  # noqa: E731
    return _network(package, fetch, key, cache, target)


def _size_checkout(
    package: ResolvedPackage,
    target: Target,
    cache: ListingCache,
    client: Client,
    *,
    offline: bool,
    build_sdists: bool,
) -> _Outcome:
    """A package from a repository: the commit's files for an editable install, else its built wheel
    (--build-sdists) or the commit's files as an estimate of it."""
    file = package.file
    assert file is not None
    if build_sdists and not file.editable:
        key = listing_key(file, prefix="built-")
        built = cache.get(key)
        if built is not None:
            return _Outcome(_sized(package, built, target))
        if not offline:
            outcome = _network(package, lambda: build_sdist(client, file, cache), key, cache, target)
            if outcome.sized.measured:
                return outcome
    key = listing_key(file, prefix="checkout-")
    listing = cache.get(key)
    if listing is None:
        if offline and not file.url.lower().startswith("git+file:"):
            return _Outcome(_not_measured(package, "offline: the repository was not cloned"))
        try:
            listing = checkout_listing(file.url, SizeMethod.CHECKOUT_FILES)
        except (CheckoutError, ToolFailure) as error:
            return _Outcome(_not_measured(package, f"{file.url}: {error}"), used_network=True)
        cache.put(key, listing, file)
    if file.editable:
        totals = editable_totals(listing, package.name)
        method, note = SizeMethod.CHECKOUT_FILES, "the editable checkout pip leaves in the slug"
    else:
        totals = predict_installed(listing, package, target)
        method = SizeMethod.ESTIMATED_FROM_SDIST
        note = (
            "from the repository's files: its build decides what the wheel holds (--build-sdists builds it)"
        )
    sized = SizedPackage(
        name=package.name,
        version=package.version,
        installed_bytes=totals.installed,
        pyc_bytes=totals.pyc,
        compressed_bytes=round(totals.compressed),
        file_count=totals.files,
        method=method,
        method_note=note,
    )
    return _Outcome(sized, used_network=True)


def _sdist_estimate(
    package: ResolvedPackage, file: ResolvedFile, client: Client, *, offline: bool, why: str | None
) -> _Outcome:
    if file.size:
        return _Outcome(_estimate(package, file.size, SDIST_RATIOS, SizeMethod.ESTIMATED_FROM_SDIST, why))
    if offline:
        return _Outcome(_not_measured(package, "offline, and the index gave no sdist size"))
    try:
        size = client.size(file.url, shown=host_of(file.url))
    except NetworkFailure as error:
        return _Outcome(_not_measured(package, str(error)), error, used_network=True)
    except NetError as error:
        return _Outcome(_not_measured(package, str(error)), used_network=True)
    if not size:
        return _Outcome(_not_measured(package, "the sdist's size is unknown"), used_network=True)
    return _Outcome(
        _estimate(package, size, SDIST_RATIOS, SizeMethod.ESTIMATED_FROM_SDIST, why), used_network=True
    )


def _network(
    package: ResolvedPackage,
    fetch: Callable[[], WheelListing | WholeWheel],
    key: str,
    cache: ListingCache,
    target: Target,
) -> _Outcome:
    file = package.file
    assert file is not None
    try:
        fetched = fetch()
        if isinstance(fetched, WholeWheel):
            return _Outcome(_install_and_measure(package, fetched, target, cache), used_network=True)
    except NetworkFailure as error:
        return _Outcome(_not_measured(package, str(error)), error, used_network=True)
    except (NetError, ListingError) as error:
        return _Outcome(_not_measured(package, f"{file.filename}: {error}"), used_network=True)
    except CorruptWheelError as error:
        return _Outcome(
            _not_measured(package, f"{file.filename} is not a readable wheel ({error})"), used_network=True
        )
    except ToolFailure as error:  # run_command: pip missing or too slow
        return _Outcome(_not_measured(package, str(error)), used_network=True)
    except OSError as error:  # writing the download (disk full, read-only cache)
        reason = error.strerror or str(error)
        return _Outcome(_not_measured(package, f"cannot save {file.filename}: {reason}"), used_network=True)
    cache.put(key, fetched, file)
    return _Outcome(_sized(package, fetched, target), used_network=True)
