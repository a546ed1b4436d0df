"""Ed25519 signing keys, the key-store interface, and the encrypted storage on disk.

``SigningKeyStore`` is what issuing needs of a key store, whichever is configured
(``ISSUER_KEY_STORE``): ``database`` (``issuer.core.key_envelope``: sealed into the key's row),
``files`` (``KeyStore`` below) or ``pkcs11`` (``issuer.core.pkcs11_keys``: kept in a token).

With the ``files`` store, private keys are kept as PKCS#8 PEM files encrypted with a passphrase
(``ISSUER_KEY_PASSPHRASE`` in the service configuration), one file per key id, in a directory
only the service user can read (DESIGN.md "Shape of the code": ``keys/`` holds keys, private
keys encrypted). Files are written atomically so a crash never leaves half a key behind, and
an existing key is never overwritten by accident: a lost signing key cannot sign again, and a
replaced one no longer matches the key its DID document publishes.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuer.core.errors import KeyError_

#: Used when no passphrase is configured, so a development checkout works out of the box. It is
#: public (it is in the source code): keys encrypted with it are not protected at all, which is
#: why ``passphrase_or_development`` tells the caller to warn loudly.
DEVELOPMENT_PASSPHRASE = "merkki-development-passphrase-NOT-SECRET"  # noqa: S105 - documented

# Key ids become file names: a conservative alphabet that cannot express a path, a hidden file,
# or a name that differs only by case-folding tricks.
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_SUFFIX = ".pem"
_FILE_MODE = 0o600
_DIR_MODE = 0o700


def generate_private_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key (from the operating system's CSPRNG)."""
    return Ed25519PrivateKey.generate()


def passphrase_or_development(value: str | None) -> tuple[str, bool]:
    """Return ``(passphrase, is_development)``: the configured passphrase, or the public
    development passphrase and ``True`` when none (or an empty one) is configured."""
    if value is None or not value.strip():
        return DEVELOPMENT_PASSPHRASE, True
    return value, False


class SigningKeyStore(Protocol):
    """Where the private halves of the signing keys live (the public halves and their status
    are rows in the database). Every method names a key by its id and hands in the sealed
    private key its row holds (``SigningKey.sealed_private_key``: None unless the ``database``
    store wrote it), so that no store needs a database session of its own."""

    #: ``database``, ``files`` or ``pkcs11`` (the ``ISSUER_KEY_STORE`` value).
    kind: str

    def new_key(self, key_id: str) -> tuple[Ed25519PublicKey, str | None]:
        """Make a new Ed25519 key named ``key_id``; return its public half and the sealed
        private key to keep in its row (None when the store keeps the private key itself)."""
        ...

    def private_key(self, key_id: str, sealed: str | None) -> Ed25519PrivateKey:
        """The key that signs as ``key_id``; ``KeyError_`` when it is missing or unusable."""
        ...

    def has_private_key(self, key_id: str, sealed: str | None) -> bool:
        """Whether the store holds something for ``key_id`` (usable or not)."""
        ...


def check_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise KeyError_(
            f"invalid key id {key_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return key_id


def tighten_directory(directory: Path) -> int | None:
    """Keep the keys folder private (mode 0700): when it exists with wider permissions, set
    0700 and return the mode it had (the caller warns); None when nothing was changed. An
    ``OSError`` (e.g. a read-only file system) is the caller's to report."""
    path = Path(directory)
    if not path.is_dir():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 == 0:
        return None
    os.chmod(path, _DIR_MODE)
    return mode


class KeyStore:
    """Encrypted PEM files ``<directory>/<key_id>.pem`` (PKCS#8, mode 0600): the ``files``
    store. The files are on one host's disk, so this store fits a single app server only; the
    ``database`` store reads such files for keys that it has not sealed yet."""

    kind = "files"

    def __init__(self, directory: Path, passphrase: str) -> None:
        if not isinstance(passphrase, str) or not passphrase:
            raise KeyError_("a non-empty passphrase is required to store keys")
        self.directory = Path(directory)
        self._passphrase = passphrase.encode("utf-8")

    def __repr__(self) -> str:  # never show the passphrase
        return f"KeyStore({str(self.directory)!r})"

    def new_key(self, key_id: str) -> tuple[Ed25519PublicKey, str | None]:
        private_key = generate_private_key()
        self.save(key_id, private_key)
        return private_key.public_key(), None

    def private_key(self, key_id: str, sealed: str | None) -> Ed25519PrivateKey:
        # A sealed key is the database store's; this store reads its own files only.
        return self.load(key_id)

    def has_private_key(self, key_id: str, sealed: str | None) -> bool:
        return self.exists(key_id)

    def path_for(self, key_id: str) -> Path:
        """The file that holds ``key_id`` (validated: it cannot point outside the directory)."""
        return self.directory / (check_key_id(key_id) + _SUFFIX)

    def exists(self, key_id: str) -> bool:
        return self.path_for(key_id).is_file()

    def save(self, key_id: str, key: Ed25519PrivateKey, *, overwrite: bool = False) -> Path:
        """Encrypt ``key`` with the passphrase and write it atomically; return the file path.

        Refuses to replace an existing key unless ``overwrite`` is true.
        """
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_("only Ed25519 private keys can be stored")
        path = self.path_for(key_id)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        self._ensure_directory()
        temporary = self._write_temporary(pem)
        try:
            if overwrite:
                os.replace(temporary, path)
            else:
                # link() fails if the target exists: an atomic "create, never clobber".
                try:
                    os.link(temporary, path)
                except FileExistsError:
                    raise KeyError_(f"key {key_id!r} already exists in {self.directory}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return path

    def load(self, key_id: str) -> Ed25519PrivateKey:
        """Read and decrypt ``key_id``; ``KeyError_`` if missing, undecryptable or not Ed25519."""
        path = self.path_for(key_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyError_(f"no key {key_id!r} in {self.directory}") from None
        except OSError as error:
            raise KeyError_(f"cannot read key {key_id!r}: {error.strerror}") from error
        try:
            key = serialization.load_pem_private_key(data, password=self._passphrase)
        except TypeError:
            # cryptography raises TypeError when the file is not encrypted at all.
            raise KeyError_(f"key file {path} is not encrypted; refusing to use it") from None
        except ValueError:
            raise KeyError_(
                f"cannot decrypt key {key_id!r} in {self.directory} (wrong ISSUER_KEY_PASSPHRASE?)"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_(f"key {key_id!r} is not an Ed25519 key")
        return key

    def delete(self, key_id: str) -> None:
        """Remove ``key_id``'s file; ``KeyError_`` if there is none."""
        try:
            self.path_for(key_id).unlink()
        except FileNotFoundError:
            raise KeyError_(f"no key {key_id!r} in {self.directory}") from None

    def _ensure_directory(self) -> None:
        if not self.directory.exists():
            self.directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask; set it explicitly.
            os.chmod(self.directory, _DIR_MODE)
        elif not self.directory.is_dir():
            raise KeyError_(f"key directory {self.directory} is not a directory")

    def _write_temporary(self, data: bytes) -> str:
        # mkstemp creates the file with mode 0600 in the target directory, so the final rename
        # or link stays on one file system and is atomic.
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=self.directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, _FILE_MODE)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return temporary
