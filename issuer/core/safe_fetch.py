"""Guarded HTTPS GET for documents named inside credentials (did:web DID documents, status lists).

Such URLs come from whoever made the credential, so fetching them naively would let anyone make
the service probe its own network (SSRF). Guards:

* ``https`` only, default port or an explicit one, no credentials in the URL;
* the host name is resolved once and EVERY address must be public (``ipaddress.is_global``):
  loopback, private, link-local, multicast, reserved and unspecified ranges are refused;
* the connection goes to the vetted address itself (TLS still verifies the host name through
  SNI), so a second DNS answer cannot swap in a private address (DNS rebinding);
* no redirects; ONE deadline per fetch covering connect, TLS, headers and body (a server that
  trickles one byte a second is cut off at it, which per-operation socket timeouts would not
  do); the body is read up to a size cap;
* successful answers are cached for a short time, bounded in entries;
* messages name the URL and host, never the addresses a host name resolves to (they reach
  verification reports, and would otherwise map the service's network for an attacker);
* ``FetchBudget`` wraps a fetcher for one verification: at most ``max_fetches`` documents and
  one overall deadline, so one credential cannot make the service fetch without end.

``post_form`` sends a form with the same guards and answers its JSON (never cached): the token
request of OpenID Connect sign-in (``issuer.core.oidc``), whose provider an institution admin
names, so it gets the same care as a URL inside a credential.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from issuer.core.errors import EngineError

AddressResolver = Callable[[str, int], list[str]]


class FetchRefused(EngineError):
    """The URL was not fetched because a guard refused it."""

    code = "fetch_refused"


class FetchFailed(EngineError):
    """The URL was allowed but could not be retrieved or parsed."""

    code = "fetch_failed"


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    timeout_s: float = 3.0
    max_bytes: int = 512 * 1024
    cache_ttl_s: float = 300.0
    cache_entries: int = 256
    user_agent: str = "Merkki-verifier/1.0"


def _vet_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise FetchRefused(f"only https URLs are fetched: {url}")
    if parts.username or parts.password:
        raise FetchRefused(f"URLs with credentials are not fetched: {url}")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"URL has no host: {url}")
    try:
        port = parts.port or 443
    except ValueError as error:
        raise FetchRefused(f"invalid port in {url}") from error
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port, path


def _vet_addresses(host: str, addresses: list[str], allowed: Collection[str] = ()) -> str:
    """The address to connect to, if every address of ``host`` is public (or in ``allowed``,
    which only tests use, to reach a server on the loopback interface)."""
    if not addresses:
        raise FetchRefused(f"{host} does not resolve")
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise FetchRefused(f"{host} does not resolve to a usable address") from None
        if str(ip) in allowed:
            continue
        if not ip.is_global or ip.is_multicast:
            # Never the address itself: this message reaches reports and pages.
            raise FetchRefused(
                f"the host name {host} points to a private or local address; not fetched"
            )
    return addresses[0]


class _Deadline:
    """One absolute deadline for a fetch. A watchdog shuts the socket down when it passes, so
    that no blocking step (TLS handshake, header lines, body) can outlive it, however slowly
    the server sends."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at = clock() + seconds
        self._timer: threading.Timer | None = None
        self.expired = False

    def remaining(self) -> float:
        left = self._at - self._clock()
        if left <= 0:
            self.expired = True
            raise TimeoutError("deadline passed")
        return left

    def guard(self, sock: socket.socket) -> None:
        def cut_off() -> None:
            self.expired = True
            # The plain socket's shutdown, on the descriptor: wakes a blocked read in the
            # fetching thread without touching the TLS state it is using. (Already closed: no
            # harm.)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

        self._timer = threading.Timer(self.remaining(), cut_off)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a fixed, already vetted IP address while verifying TLS for ``host``."""

    def __init__(
        self,
        host: str,
        port: int,
        address: str,
        deadline: _Deadline,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=deadline.remaining(), context=context)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self._deadline.remaining())
        # Each socket operation may wait at most what is left of the deadline; the watchdog
        # ends one that is fed a byte at a time, the TLS handshake included.
        sock.settimeout(self._deadline.remaining())
        tls = self._context.wrap_socket(  # type: ignore[attr-defined]
            sock, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.sock = tls
        self._deadline.guard(tls)
        tls.do_handshake()


class SafeFetcher:
    """``fetcher(url) -> parsed JSON``, with the guards above. ``enabled=False`` refuses all."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: AddressResolver = system_resolver,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        allowed_addresses: Collection[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``allowed_addresses`` and ``ssl_context`` exist for tests only (a TLS server on the
        loopback interface with its own certificate); the service never passes them."""
        self.policy = policy or FetchPolicy()
        self.resolver = resolver
        self.enabled = enabled
        self._clock = clock
        self._allowed = frozenset(allowed_addresses)
        self._ssl_context = ssl_context
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str) -> Any:
        return self.fetch_json(url)

    def _cached(self, url: str) -> Any | None:
        with self._lock:
            hit = self._cache.get(url)
            if hit is None:
                return None
            expires, value = hit
            if expires < self._clock():
                del self._cache[url]
                return None
            self._cache.move_to_end(url)
            return value

    def _store(self, url: str, value: Any) -> None:
        with self._lock:
            self._cache[url] = (self._clock() + self.policy.cache_ttl_s, value)
            self._cache.move_to_end(url)
            while len(self._cache) > self.policy.cache_entries:
                self._cache.popitem(last=False)

    def fetch_json(self, url: str, *, timeout_s: float | None = None, fresh: bool = False) -> Any:
        """The JSON document at ``url``, within ``timeout_s`` (default and upper bound: the
        policy's ``timeout_s``) from start to the last byte. ``fresh``: not from the cache (a
        key set fetched again because a token names a key it did not have)."""
        if not self.enabled:
            raise FetchRefused("fetching remote documents is switched off")
        cached = None if fresh else self._cached(url)
        if cached is not None:
            return cached
        host, port, path, address, deadline = self._vetted(url, timeout_s)
        body = self._exchange(host, port, address, path, deadline)[1]
        try:
            value = json.loads(body)
        except ValueError as error:
            raise FetchFailed(f"{url} did not return JSON") from error
        self._store(url, value)
        return value

    def post_form(
        self,
        url: str,
        fields: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        ok_statuses: Collection[int] = (200,),
    ) -> tuple[int, Any]:
        """POST ``fields`` as ``application/x-www-form-urlencoded`` to ``url`` with the guards
        of ``fetch_json``; (status, parsed JSON answer). An answer with a status outside
        ``ok_statuses`` is refused like a GET's, so is one that is not JSON. Never cached."""
        if not self.enabled:
            raise FetchRefused("fetching remote documents is switched off")
        host, port, path, address, deadline = self._vetted(url, None)
        body = urlencode(fields).encode("ascii")
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        status, answer = self._exchange(
            host, port, address, path, deadline, body=body, headers=sent, ok=ok_statuses
        )
        try:
            return status, json.loads(answer)
        except ValueError as error:
            raise FetchFailed(f"https://{host}{path} did not return JSON") from error

    def _vetted(self, url: str, timeout_s: float | None) -> tuple[str, int, str, str, _Deadline]:
        host, port, path = _vet_url(url)
        seconds = (
            self.policy.timeout_s if timeout_s is None else min(timeout_s, self.policy.timeout_s)
        )
        deadline = _Deadline(seconds, time.monotonic)
        try:
            addresses = self.resolver(host, port)
        except OSError:
            # The resolver's own words may carry addresses (of the DNS server, say).
            raise FetchFailed(f"cannot resolve {host}") from None
        address = _vet_addresses(host, addresses, self._allowed)
        return host, port, path, address, deadline

    def _exchange(
        self,
        host: str,
        port: int,
        address: str,
        path: str,
        deadline: _Deadline,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: Collection[int] = (200,),
    ) -> tuple[int, bytes]:
        try:
            connection = _PinnedHTTPSConnection(
                host, port, address, deadline, self._ssl_context or ssl.create_default_context()
            )
        except TimeoutError:
            raise self._too_slow(host, path, deadline) from None
        try:
            connection.request(
                "GET" if body is None else "POST",
                path,
                body=body,
                headers={
                    "Accept": "application/did+json, application/json, application/ld+json",
                    "User-Agent": self.policy.user_agent,
                    **(headers or {}),
                },
            )
            response = connection.getresponse()
            if response.status not in ok:
                raise FetchFailed(f"https://{host}{path} answered HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchFailed(
                    f"https://{host}{path} is larger than {self.policy.max_bytes} bytes"
                )
            body = response.read(self.policy.max_bytes + 1)
            if len(body) > self.policy.max_bytes:
                raise FetchFailed(
                    f"https://{host}{path} is larger than {self.policy.max_bytes} bytes"
                )
            # A watchdog cut-off can look like a short, complete body to http.client.
            deadline.remaining()
            return response.status, body
        except (OSError, http.client.HTTPException) as error:
            if deadline.expired or isinstance(error, TimeoutError):
                raise self._too_slow(host, path, deadline) from None
            raise FetchFailed(
                f"https://{host}{path} could not be retrieved: {_reason(error)}"
            ) from None
        finally:
            deadline.cancel()
            connection.close()

    @staticmethod
    def _too_slow(host: str, path: str, deadline: _Deadline) -> FetchFailed:
        return FetchFailed(
            f"https://{host}{path} did not answer in full within {deadline.seconds:.2g} seconds"
        )


def _reason(error: BaseException) -> str:
    """Why a retrieval failed, in words that cannot carry an address: the OS error text or
    the exception's kind, never its full message (``getaddrinfo`` and connection errors may
    quote the address connected to)."""
    if isinstance(error, ssl.SSLError):
        return "the TLS connection failed" + (f" ({error.reason})" if error.reason else "")
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


#: Documents one verification may fetch: a did:web DID document, a status list (and its
#: issuer's DID document) for each of a few status entries. More than this is not a credential
#: but an attempt to use the service as a fetching robot.
MAX_FETCHES_PER_VERIFICATION = 8
#: Seconds for all fetches of one verification together (each fetch: ``FetchPolicy.timeout_s``).
FETCH_SECONDS_PER_VERIFICATION = 10.0


class FetchBudget:
    """A fetcher for ONE verification: at most ``max_fetches`` distinct documents and
    ``total_deadline_s`` for all of them together.

    Wrap the service's shared fetcher once per verification; each fetch also keeps its own
    deadline (``FetchPolicy.timeout_s``), shortened to what is left of the total. A document
    asked for again in the same verification (the issuer's DID document, for the credential
    and again for its status list) is answered from this verification's memory and not
    counted again.
    """

    def __init__(
        self,
        fetcher: Callable[[str], Any],
        max_fetches: int = MAX_FETCHES_PER_VERIFICATION,
        total_deadline_s: float = FETCH_SECONDS_PER_VERIFICATION,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetcher = fetcher
        self.max_fetches = max_fetches
        self.total_deadline_s = total_deadline_s
        self._clock = clock
        self._ends = clock() + total_deadline_s
        self.used = 0
        self._fetched: dict[str, Any] = {}

    @classmethod
    def wrap(cls, fetcher: Callable[[str], Any] | None) -> Callable[[str], Any] | None:
        """``fetcher`` under a fresh budget with the default limits (None stays None)."""
        if fetcher is None:
            return None
        return cls(fetcher, MAX_FETCHES_PER_VERIFICATION, FETCH_SECONDS_PER_VERIFICATION)

    def __call__(self, url: str) -> Any:
        if url in self._fetched:
            return self._fetched[url]
        if self.used >= self.max_fetches:
            raise FetchRefused(
                f"not fetched: a verification may fetch at most {self.max_fetches} documents"
            )
        left = self._ends - self._clock()
        if left <= 0:
            raise FetchFailed(
                f"not fetched: the {self.total_deadline_s:g} seconds for fetching documents "
                "during one verification have run out"
            )
        self.used += 1
        if isinstance(self.fetcher, SafeFetcher):
            value = self.fetcher.fetch_json(url, timeout_s=left)
        else:
            value = self.fetcher(url)
        self._fetched[url] = value
        return value
