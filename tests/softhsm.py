"""A throwaway SoftHSM2 token for the ``pkcs11`` key store's tests.

SoftHSM2 comes from Debian (``softhsm2``; ``.ci/run`` installs it when it is missing). The token
lives in a temporary folder named by a configuration file in ``SOFTHSM2_CONF``, which the
library reads when it is first initialised in this process; so there is one token per test
process (per xdist worker), and the tests tell their keys apart by their ids. Without SoftHSM2
the tests skip with the reason, except in CI (``CI`` set), where they fail.

Import the fixture into a test module: ``from tests.softhsm import softhsm_fixture``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from issuer.core import pkcs11_keys
from issuer.core.pkcs11_keys import Pkcs11KeyStore

#: Where Debian's libsofthsm2 puts the PKCS#11 module.
LIBRARY_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "merkki-test"
USER_PIN = "20261204"
SO_PIN = "so-20261204"


@dataclass(frozen=True)
class SoftHsm:
    library: str
    token: str
    pin: str

    def store(self) -> Pkcs11KeyStore:
        return Pkcs11KeyStore(self.library, self.token, self.pin)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must not skip the PKCS#11 tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", name="softhsm")
def softhsm_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A SoftHSM2 token initialised for this test process."""
    library = next((path for path in LIBRARY_PATHS if Path(path).is_file()), None)
    util = shutil.which("softhsm2-util")
    if library is None or util is None:
        _unavailable("SoftHSM2 is not installed (Debian package softhsm2)")
    assert library is not None
    assert util is not None
    try:
        import pkcs11  # noqa: F401 - the binding the store uses
    except ImportError:
        _unavailable("python-pkcs11 is not installed")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n",
        "utf-8",
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        command = [util, "--init-token", "--free", "--label", TOKEN_LABEL]
        command.extend(["--so-pin", SO_PIN, "--pin", USER_PIN])
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield SoftHsm(library, TOKEN_LABEL, USER_PIN)
    finally:
        pkcs11_keys.close_sessions()
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
