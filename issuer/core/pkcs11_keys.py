"""The ``pkcs11`` key store: signing keys generated and kept inside a PKCS#11 token.

In production the token is an HSM; the tests use SoftHSM2 from Debian. Keys are made in the
token with ``CKM_EC_EDWARDS_KEY_PAIR_GEN`` over Ed25519 (PKCS#11 3.0 §2.3.5; curve OID
1.3.101.112, RFC 8410) as token objects labelled with the key id, private halves
``CKA_SENSITIVE`` and not ``CKA_EXTRACTABLE``: the private key never leaves the token. Signing is
``CKM_EDDSA`` (PKCS#11 3.0 §2.3.14: pure Ed25519 without a context, the same bytes RFC 8032 and
eddsa-rdfc-2022 §3.3.6 produce), through ``TokenPrivateKey``, which the signing code uses like
any other Ed25519 private key and which refuses every way of exporting the key.

The binding is ``python-pkcs11`` (imported only when this store is configured). One logged-in
session per process and token, used under a lock (a PKCS#11 session runs one operation at a
time); after a fork (gunicorn's workers) the library is initialised again, as PKCS#11 requires.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any, NoReturn

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from issuer.core.errors import KeyError_
from issuer.core.keys import check_key_id

if TYPE_CHECKING:
    import pkcs11

#: RFC 8410 §3: id-Ed25519.
ED25519_OID = "1.3.101.112"
_EXPORT_REFUSED = "a PKCS#11 private key never leaves its token"


class TokenPrivateKey(Ed25519PrivateKey):
    """An Ed25519 private key inside a token: it signs there, and cannot be exported."""

    def __init__(self, store: Pkcs11KeyStore, key_id: str, public_key: Ed25519PublicKey) -> None:
        self._store = store
        self._key_id = key_id
        self._public_key = public_key

    def __repr__(self) -> str:
        return f"TokenPrivateKey({self._key_id!r})"

    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    def sign(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._store.sign(self._key_id, bytes(data))

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> NoReturn:
        raise KeyError_(_EXPORT_REFUSED)

    def private_bytes_raw(self) -> NoReturn:
        raise KeyError_(_EXPORT_REFUSED)

    def __copy__(self) -> TokenPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TokenPrivateKey:
        return self


def _raw_public_key(ec_point: bytes) -> bytes:
    # CKA_EC_POINT of an Edwards key is the 32-byte key, DER-wrapped as an OCTET STRING
    # (04 20 ...) by most tokens, SoftHSM2 among them; some give it bare.
    if len(ec_point) == 34 and ec_point[:2] == b"\x04\x20":
        return ec_point[2:]
    if len(ec_point) == 32:
        return ec_point
    raise KeyError_("the token gave an Ed25519 public key in an unknown encoding")


class Pkcs11KeyStore:
    """Keys in the token labelled ``token_label`` of the PKCS#11 library ``library``."""

    kind = "pkcs11"

    def __init__(self, library: str, token_label: str, pin: str) -> None:
        if not library or not token_label or not pin:
            raise KeyError_(
                "the pkcs11 key store needs ISSUER_HSM_LIBRARY, ISSUER_HSM_TOKEN and ISSUER_HSM_PIN"
            )
        self.library = library
        self.token_label = token_label
        self._pin = pin

    def __repr__(self) -> str:  # never show the PIN
        return f"Pkcs11KeyStore(library={self.library!r}, token={self.token_label!r})"

    # --- the store --------------------------------------------------------------------------

    def new_key(self, key_id: str) -> tuple[Ed25519PublicKey, str | None]:
        import pkcs11
        from pkcs11.util.ec import encode_named_curve_parameters

        check_key_id(key_id)
        label = key_id.encode("utf-8")
        attribute = pkcs11.Attribute
        with self._session() as session:
            if self._find(session, pkcs11.ObjectClass.PRIVATE_KEY, key_id) is not None:
                raise KeyError_(f"key {key_id!r} already exists in the token")
            parameters = session.create_domain_parameters(
                pkcs11.KeyType.EC_EDWARDS,
                {attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID)},
                local=True,
            )
            public, _private = parameters.generate_keypair(
                store=True,
                label=key_id,
                id=label,
                mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                private_template={
                    attribute.SENSITIVE: True,
                    attribute.EXTRACTABLE: False,
                    attribute.SIGN: True,
                },
            )
            point = public[attribute.EC_POINT]
        return Ed25519PublicKey.from_public_bytes(_raw_public_key(bytes(point))), None

    def private_key(self, key_id: str, sealed: str | None) -> Ed25519PrivateKey:
        return TokenPrivateKey(self, key_id, self.public_key(key_id))

    def has_private_key(self, key_id: str, sealed: str | None) -> bool:
        import pkcs11

        with self._session() as session:
            return self._find(session, pkcs11.ObjectClass.PRIVATE_KEY, key_id) is not None

    # --- the token --------------------------------------------------------------------------

    def public_key(self, key_id: str) -> Ed25519PublicKey:
        import pkcs11

        check_key_id(key_id)
        with self._session() as session:
            private = self._find(session, pkcs11.ObjectClass.PRIVATE_KEY, key_id)
            public = self._find(session, pkcs11.ObjectClass.PUBLIC_KEY, key_id)
            if private is None or public is None:
                raise KeyError_(f"no key {key_id!r} in the PKCS#11 token")
            point = public[pkcs11.Attribute.EC_POINT]
        return Ed25519PublicKey.from_public_bytes(_raw_public_key(bytes(point)))

    def sign(self, key_id: str, data: bytes) -> bytes:
        """Ed25519 signature of ``data`` by ``key_id``, made inside the token (CKM_EDDSA)."""
        import pkcs11

        with self._session() as session:
            private = self._find(session, pkcs11.ObjectClass.PRIVATE_KEY, key_id)
            if private is None:
                raise KeyError_(f"no key {key_id!r} in the PKCS#11 token")
            return bytes(private.sign(data, mechanism=pkcs11.Mechanism.EDDSA))

    def delete(self, key_id: str) -> None:
        """Destroy both halves of ``key_id`` in the token (tests; a key never used)."""
        import pkcs11

        with self._session() as session:
            for object_class in (pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.ObjectClass.PUBLIC_KEY):
                found = self._find(session, object_class, key_id)
                if found is not None:
                    found.destroy()

    @staticmethod
    def _find(session: pkcs11.Session, object_class: Any, key_id: str) -> Any:
        import pkcs11

        try:
            return session.get_key(
                object_class=object_class, key_type=pkcs11.KeyType.EC_EDWARDS, label=key_id
            )
        except pkcs11.NoSuchKey:
            return None
        except pkcs11.MultipleObjectsReturned:
            raise KeyError_(f"the token holds more than one key labelled {key_id!r}") from None

    def _session(self) -> _LockedSession:
        return _LockedSession(_open(self.library, self.token_label, self._pin))


class _Open:
    def __init__(self, session: pkcs11.Session, pid: int) -> None:
        self.session = session
        self.pid = pid
        self.lock = threading.Lock()


_OPEN: dict[tuple[str, str], _Open] = {}
_OPEN_LOCK = threading.Lock()
#: library -> the process that initialised it.
_INITIALISED_IN: dict[str, int] = {}


def _open(library: str, token_label: str, pin: str) -> _Open:
    """The process's logged-in read-write session with the token (opened on first use)."""
    import pkcs11

    pid = os.getpid()
    with _OPEN_LOCK:
        known = _OPEN.get((library, token_label))
        if known is not None and known.pid == pid:
            return known
        try:
            lib = pkcs11.lib(library)
            if _INITIALISED_IN.setdefault(library, pid) != pid:
                # A forked child inherits the parent's initialised library, which PKCS#11 does
                # not allow it to use (PKCS#11 3.0 §5.4, C_Initialize): initialise it again.
                lib.reinitialize()
                _INITIALISED_IN[library] = pid
            token = lib.get_token(token_label=token_label)
            session = token.open(user_pin=pin, rw=True)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as error:
            raise KeyError_(
                f"cannot open the PKCS#11 token {token_label!r}: {type(error).__name__}"
            ) from None
        opened = _Open(session, pid)
        _OPEN[(library, token_label)] = opened
        return opened


class _LockedSession:
    def __init__(self, opened: _Open) -> None:
        self._opened = opened

    def __enter__(self) -> pkcs11.Session:
        self._opened.lock.acquire()
        return self._opened.session

    def __exit__(self, *exc: object) -> None:
        self._opened.lock.release()


def close_sessions() -> None:
    """Close this process's token sessions (tests that throw their token away)."""
    with _OPEN_LOCK:
        for opened in _OPEN.values():
            if opened.pid == os.getpid():
                # Closing what may already be gone (a finalised library, a removed token).
                with contextlib.suppress(Exception):
                    opened.session.close()
        _OPEN.clear()
