"""A package installed from a git repository, sized from the commit's own files.

pip clones the repository at the resolved commit. An editable install (`-e git+...`) leaves the
checkout in the slug (`.heroku/python/src/<name>`, heroku-facts 3.1) and points site-packages at it:
its files are the package, counted as they are. A plain install builds a wheel from the checkout,
which only a build can list: without `--build-sdists` the checkout's files stand for the wheel's,
an estimate (tests and docs in the repository are counted too).

The commit is read with `git archive` (the one reader, in sources/gitref), after a clone without a
working tree; each file's deflate size
is measured here, as a wheel's central directory would give it. Nothing of the package's runs.
"""

from __future__ import annotations

import os
import re
import tempfile
import zlib
from typing import Final

from slugprof.measure.bytecode import HEROKU_PYTHON_HOME
from slugprof.measure.install_model import Totals
from slugprof.measure.stream_model import StreamModel
from slugprof.measure.wheelzip import WheelListing, WheelMember
from slugprof.model import SizeMethod
from slugprof.sources.gitref import GitFailure, archive, archive_files, run_git

CLONE_TIMEOUT_SECONDS: Final = 600.0
_VCS: Final = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
_DEFLATED: Final = 8


class CheckoutError(Exception):
    """The repository could not be cloned or read."""


def is_vcs_url(url: str) -> bool:
    return bool(_VCS.match(url))


def split_vcs_url(url: str) -> tuple[str, str, str]:
    """(vcs, repository URL, revision) of `git+<repository>@<commit>`."""
    vcs, _, rest = url.partition("+")
    repository, _, revision = rest.rpartition("@")
    if "/" in revision or not repository:  # no revision: the `@` belonged to the URL's user
        return vcs.lower(), rest, ""
    return vcs.lower(), repository, revision


def checkout_listing(url: str, method: SizeMethod) -> WheelListing:
    """The files of the commit `url` names, with their sizes and deflate sizes."""
    vcs, repository, revision = split_vcs_url(url)
    if vcs != "git":
        raise CheckoutError(f"{vcs} checkouts are not read (only git)")
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    with tempfile.TemporaryDirectory(prefix="slugprof-checkout-") as scratch:
        clone = os.path.join(scratch, "clone")
        try:
            run_git(
                ["clone", "--quiet", "--no-checkout", repository, clone],
                scratch,
                environment=environment,
                timeout=CLONE_TIMEOUT_SECONDS,
            )
            tar = archive(clone, revision or "HEAD", environment=environment, timeout=CLONE_TIMEOUT_SECONDS)
        except GitFailure as error:
            raise CheckoutError(f"{error} ({revision or 'HEAD'})") from None
    return WheelListing(tuple(_members(tar)), None, method)


def _members(tar: bytes) -> list[WheelMember]:
    members = []
    for name, data in archive_files(tar):
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        compressed = len(deflate.compress(data) + deflate.flush())
        members.append(WheelMember(name, len(data), compressed, _DEFLATED))
    return members


def editable_totals(listing: WheelListing, name: str) -> Totals:
    """The checkout as pip leaves it for an editable install, in the slug's source folder."""
    totals = Totals()
    folder = f"{HEROKU_PYTHON_HOME.lstrip('/').removeprefix('app/')}/src/{name}"
    for member in listing.members:
        path = f"{folder}/{member.name}"
        totals.add(path, member.size, StreamModel.member(path, member))
    return totals
