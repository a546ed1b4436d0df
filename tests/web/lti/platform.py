"""The Moodle stand-in: an LTI 1.3 platform built from ``lti1p3platform`` (PyPI), in the test
process, with its keys inline.

The browser's part of the flows (the OIDC login redirect, the launch form post, the Deep
Linking answer) goes through Flask's test client; the tool's calls to the platform (its key
set, the access token, the roster, line items and results, Dynamic Registration) go over real
HTTP to a loopback server that serves ``lti1p3platform``'s own service objects.
"""

from __future__ import annotations

import json
import threading
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
    TPage,
)
from werkzeug.serving import make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

#: The platform's signing key (RS256), made for these tests only.
PLATFORM_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDrgrcovQsy9x91
oc3GQPwkAkAxJP+NFde5XFnnmi1VuJS3euGYVswhvJ+MNfdf5dHMT6BH0Iq6/76+
Il1o29MbZru8gsZbbfbdBKAs4Wyin9H4nsXNiztu+skDPSbEFd9hpc9X7Z3gEhbz
D84hQNd9tFM0wMh7iahLoALUcbl54UilxU4z1TTPgMd2wHICj+Q9xtdROdV/gU1w
zQSJBrqCMMxfuJkzguyXe4d+ohSHJgAm2cRA5IKoJ6ql9fdg8g8jeTbNESjl7MBh
1/Cg5tn8Uom4Wo5xjy6Vf8QkTJMD8Wz8gj+BT2r0rIwHbJcdv7AIHoTmXhgYJ1BE
IMmYfmYzAgMBAAECggEARf3aG0RbkLD664XD1vi3NqholXJudGqaax80JO2gLYqm
wATICPM6xYf+Trg3JYvylurPMqiaokqhUHZ8Fk7GZa1ZfAPNmZyLslHOnKf+FjKz
P1VIafbIGgp0NP82hy4M7kNN5M7cjZwyr9fxpdZUdKpj1Bi7PGPD3X3XeXW27q5g
amzKlmEoUhD7WAfzTr4S4/kHQGSz8yDJju8CAthW0NJFn5Kqt0UT/7YW1tMRk59N
lYfH+HPLSN9c3aePT47lO1tXt0MUC4w0pR6oPLnyqMYNUebBWz/jpWqz5Lxqoc0G
1HnyVz+d/oU3rhN0U37Y2C/nFPjeedUEDu8MPexdgQKBgQD3GrD3/7chpjeKAu64
+tSCtQXlxPAXC14s2hng7LZt34nDwq0TSGuEZyJ+mMrF8+v6me9iNyOjRZyPfw8v
opgg1PLILTta1L89sbsLT1nH5d0C7evGu2V/kEG7hxyHsPCubrtqwP5q3s9mupsC
JV+7Kj9Jpfuq/nfrYsZW5LWM8wKBgQDz/S1gFd0wNLeW17UheWFuJstxQoazMRTb
e5OsfblBnmtGyQUhqLEvUZ0FGbUTUG6RSIzim1YR/hqStPda3ApLwVPu3AyY1wo0
NznpknPG74f+ATpVVcAgv7vasoCwbsD2eUMliwTr3lrtqK2kSIXbxl/WzxYboFy8
FuY+AnERwQKBgQC6/Pa35Ej3bKmQhWGSlzTi6AtbcSjht1d/h1eX7miqQkMk4RdJ
hT7fRZBDzml7XHbQ/1W3s9QDBHVR3Stnt5l5FsvVkOzecil5jRnmmBhvfVE+mz4U
98/5tPcY6kg7ojivNtoaEYs04gB+U21jNVb48iJMIA+OuNuUQv2l2ZJM4wKBgD2h
E9cTbr2Ac2cssVn1OQED15uSPEgC+8u82T5Wu3axt1M3743i+G6FZO4m4jAwvtz/
wGZ06ja9QqUQBPL0Zb1g5fyNpLjuiGtMD9rJ3WjAlE86rCtl75PWGnNRZ2QpdaBM
XQOcq++QSNODKek3UGiFISw3PtRXm1T/S8UaBMmBAoGAX1lCjGsAxJvleHGc7xS0
vaUuGC1zYXijhxJGvtCp50YwtNsrz6gr3sx5aoxS1GlShyUMjjAZOmkXFB4lls9z
Y0vtefpIflEcppjIcpl3inCdn9fPqYwVso8+YzHcefMFvtMpRdRZEcbJUd16tQXB
y/BAfy6T3/Oq1moUiQn9blQ=
-----END PRIVATE KEY-----
"""

#: Another key: an id_token signed with it does not verify against the platform's key set.
OTHER_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDE8aEtTpuD+a0k
71VoYI/kACUoxDjW36MIliHF3zsCqQzB9bGi11anAkpQGAH8zD/E2CMfNESfPnrh
yXoWhD7vwgMy3gquxQRTTeBmmbSZJ1X3qlZXJDs9M+5uup5j34z2S6zLAu3dMpP+
swVQui0EChGl01Lrply244PJJa+Nbr0/2LVxrjFeLCnIwgSTq5X1yCC7JO5iB095
eWrEdr9QJPqdJ6rQCRZvKwRUCSVV5Tpt632qH1ilWCirNzTLYXt9EtzRiSbdo9fX
wC70xlqEYuYCiCHY0smqy2MTaGTCn7obf0GcqEqi8JUB+CUVGp5B+1gkXIwHUs1M
6ihERsI9AgMBAAECgf8+eavCizqvUkGoWuW9G9dGOWc/efJYHLSAYx/nzc3qdewP
ZZ4qMqxKaYqHwvr5X0sRTy52xR3yPe1EHs5YpxRdgTvTYGbauW86C2zg6XXMzwv9
Jrsvi07TvSxfUk1YbuMS0u7HyLpOBXoVsH7JRYmI9GVha0n9rSb/mh+FG4pRzDNc
Yd98J1ms0sliRCajPWwsaMpDhH8PeYCS4xJz6T7/d+xYZe0094u9RcHjqYsbds23
Z+Vy26BHa+MaKz7FlYntERqSP7BIjwcDsog05EO9MyaXSl/5gCqm6gFwruLGBbkj
UCU7+ZfrEENmejaAK8pslu1j7T483QNfzC8+us0CgYEA6SVe3VSJmV5oFeCDVPYy
wpvvZ5Go5QJKp/2zN5FNfH623QeErlOwHY9N9tpQ4vEUHJ+S4AeyGCuvgOjA7BOT
BcCbHVXZKahiu8pi5w0JMB9FFKVTtY8blgE1a7bTN235yeSEpHH4cTlS+HSFXrMw
PB5MV0siv1TPZwFqBg3dTFMCgYEA2D/LERuQyfrnnsjjE6FiEmvMECJgQZ7f4Obj
Bf8eQ8S5sAHK8XQOQyH4hWqgVN9mt4iqzQu5qrlicwIpM6sSVW88QgjC6ccjwlAZ
MaTeWwJtzWDKg4JaAzuqIA3tPk6iDL5p4EtS0Z6ghgUOye+N4dbUYvcNVGQzIy6Q
n1czZS8CgYEApRaHM+YWgPkubr9Jf7HNg6vzO70SgQa8YnPsoV5MJel8Bsq6Es7D
mErPBArW17upaBM+Z1BLtX3JilhFs2Sw6JPXwk/1s9+9+gd3PPAoH2ElA1eGDLvG
5tL4RstwiIFhLKqZme/x4gqbS78GaWYss4UovW9ArYaaTe/caWkL2G0CgYBcONB0
KkpUKQGQUOGuZHu7mWc8Vjywn32gnzagPw18HzCFZC5VTIYskRc4ZqGbsG5QxSL6
MQ7sRQU8QOarV0CJWNfc3XmqUzfnzVsBNetx6pZDKQ0UiomyqUZDR00u7j/jqWzj
r5vRM5IHta555gSfFIwc7HktzVGVpm0c1wZfFwKBgQCgoHDX+rABnByBma5X7j98
osKm6A7BP9VTCvidZ4fQ3TC2WpNNkkWF54erXgHa9rNuJjCw663NdNiIMWzaS+Rd
XimNx5g/kt/e0Hs+4UxDn9s+3VZDnlup4mxbG6GL3WucPLhkrXCNB2F1E+qkLvXn
yawSqdz7w3MLmHHMr7B28A==
-----END PRIVATE KEY-----
"""

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
CLIENT_ID = "merkki-at-moodle"
DEPLOYMENT = "1"
COURSE = "course-101"
REGISTRATION_TOKEN = "registration-token-from-moodle"
DYNAMIC_CLIENT_ID = "dynamically-registered"


def public_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    email: str | None
    roles: tuple[str, ...]

    def member(self) -> dict[str, t.Any]:
        found: dict[str, t.Any] = {
            "user_id": self.user_id,
            "roles": list(self.roles),
            "name": self.name,
            "status": "Active",
        }
        if self.email:
            found["email"] = self.email
        return found


TEACHER = User("t-1", "Tiina Opettaja", "tiina@moodle.example", (INSTRUCTOR,))
LIISA = User("s-1", "Liisa Virtanen", "liisa@example.fi", (LEARNER,))
MATTI = User("s-2", "Matti Korhonen", "matti@example.fi", (LEARNER,))
NOMAIL = User("s-3", "Ei Postia", None, (LEARNER,))


class PlatformConf(LTI1P3PlatformConfAbstract):
    """One registration of the tool on the platform (``lti1p3platform``'s platform config)."""

    def init_platform_config(self, **kwargs: t.Any) -> None:
        self.settings = kwargs

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        settings = self.settings
        tool = settings["tool"]
        registration = (
            Registration()
            .set_iss(settings["iss"])
            .set_client_id(settings["client_id"])
            .set_deployment_id(settings["deployment_id"])
            .set_oidc_login_url(f"{tool}/lti/login")
            .set_launch_url(f"{tool}/lti/launch")
            .set_deeplink_launch_url(f"{tool}/lti/launch")
            .set_platform_public_key(public_pem(settings["key"]))
            .set_platform_private_key(settings["key"])
        )
        if settings.get("tool_jwks"):
            registration.set_tool_key_set(settings["tool_jwks"])
        return registration


class PlatformRequest(Request):
    def build_metadata(self, request: t.Any) -> TRequest:
        return t.cast(TRequest, request)


def platform_request(
    method: str, *, get: dict[str, t.Any] | None = None, headers: t.Any = None, **rest: t.Any
) -> PlatformRequest:
    return PlatformRequest(
        {
            "method": method,
            "get_data": get or {},
            "form_data": rest.get("form") or {},
            "headers": headers or {},
            "content_type": None,
            "path": rest.get("path", "/"),
            "json": rest.get("json"),
        }
    )


class Launch(LTIAdvantageMessageLaunchAbstract):
    """The platform's launch: builds and signs the id_token for the tool's login answer."""

    def render_launch_form(self, launch_data: dict[str, t.Any], **kwargs: t.Any) -> t.Any:
        return launch_data


class Roster(NamesRoleProvisioningService):
    def __init__(self, members: list[dict[str, t.Any]], *args: t.Any) -> None:
        super().__init__(*args)
        self.members = members

    def get_member_data_page(self, **kwargs: t.Any) -> TPage:
        return {"content": self.members, "has_next": False}

    def get_context_by_id(self) -> Context:
        return Context(id=COURSE, label="W101", title="Welding 101")


class Grades(AssignmentsGradesService):
    def __init__(
        self,
        line_items: list[dict[str, t.Any]],
        results: dict[str, list[dict[str, t.Any]]],
        *args: t.Any,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.line_items = line_items
        self.results = results

    def find_lineitems(self, **kwargs: t.Any) -> TPage:
        return {"content": self.line_items, "has_next": False}

    def get_results(self, line_item_id: str, **kwargs: t.Any) -> TPage:
        return {"content": self.results.get(line_item_id, []), "has_next": False}

    def find_lineitem(self, line_item_id: str) -> t.Any:
        raise NotImplementedError

    def create_lineitem(self, creation_data: t.Any) -> t.Any:
        raise NotImplementedError

    def update_lineitem(self, update_data: t.Any) -> t.Any:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: t.Any) -> t.Any:
        raise NotImplementedError


@dataclass
class Platform:
    """The platform: its settings, roster, line items and results, and its loopback server."""

    tool: str
    base: str = ""
    client_id: str = CLIENT_ID
    deployment_id: str = DEPLOYMENT
    tool_jwks: dict[str, t.Any] | None = None
    members: list[dict[str, t.Any]] = field(default_factory=list)
    line_items: list[dict[str, t.Any]] = field(default_factory=list)
    results: dict[str, list[dict[str, t.Any]]] = field(default_factory=dict)
    #: What Dynamic Registration sent to ``/register``.
    registrations: list[dict[str, t.Any]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.base

    def conf(self, **changes: t.Any) -> PlatformConf:
        settings = {
            "iss": self.issuer,
            "client_id": self.client_id,
            "deployment_id": self.deployment_id,
            "tool": self.tool,
            "key": PLATFORM_KEY,
            "tool_jwks": self.tool_jwks,
            **changes,
        }
        conf = PlatformConf(**settings)
        conf.get_registration()
        return conf

    # --- the loopback server: what the tool calls ------------------------------------------

    def _answer(self, req: WsgiRequest) -> tuple[int, t.Any, dict[str, str]]:
        conf = self.conf()
        path = req.path
        wrapped = platform_request(
            req.method,
            get=req.args.to_dict(),
            headers=dict(req.headers),
            form=req.form.to_dict(),
            path=path,
        )
        if path == "/jwks":
            return 200, conf.get_jwks(), {}
        if path == "/token":
            return 200, conf.get_access_token(req.form.to_dict()), {}
        if path == "/nrps":
            roster = Roster(self.members, wrapped, conf, f"{self.base}/nrps")
            return _service(roster.handle_resp(roster.handle_get_members))
        if path == "/lineitems" or path.startswith("/lineitems/"):
            grades = Grades(
                self.line_items,
                self.results,
                wrapped,
                conf,
                f"{self.base}/lineitems",
                allow_creating_lineitems=False,
            )
            if path == "/lineitems":
                return _service(grades.handle_resp(grades.handle_get_lineitems))
            line_item_id = path.split("/")[2]
            return _service(
                grades.handle_resp(grades.handle_get_results, line_item_id=line_item_id)
            )
        if path == "/.well-known/openid-configuration":
            return 200, self.openid_configuration(), {}
        if path == "/register":
            if req.headers.get("Authorization") != f"Bearer {REGISTRATION_TOKEN}":
                return 401, {"error": "invalid token"}, {}
            sent = json.loads(req.get_data())
            self.registrations.append(sent)
            answer = {
                **sent,
                "client_id": DYNAMIC_CLIENT_ID,
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    **sent["https://purl.imsglobal.org/spec/lti-tool-configuration"],
                    "deployment_id": "7",
                },
            }
            return 200, answer, {}
        return 404, {"error": "not found"}, {}

    def openid_configuration(self) -> dict[str, t.Any]:
        """The platform's configuration (LTI Dynamic Registration 1.0 section 3.4.1)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}/auth",
            "token_endpoint": f"{self.base}/token",
            "jwks_uri": f"{self.base}/jwks",
            "registration_endpoint": f"{self.base}/register",
            "scopes_supported": ["openid"],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "moodle",
                "version": "4.5",
            },
        }

    def wsgi(self, environ: t.Any, start_response: t.Any) -> t.Any:
        req = WsgiRequest(environ)
        status, body, headers = self._answer(req)
        response = WsgiResponse(json.dumps(body), status=status, mimetype="application/json")
        response.headers.update(headers)
        return response(environ, start_response)

    # --- the browser's part --------------------------------------------------------------

    def launch(
        self,
        client: t.Any,
        user: User,
        *,
        placement: int | None = None,
        deep_link: bool = False,
        expires_in: int = 300,
        key: str = PLATFORM_KEY,
        claims: dict[str, t.Any] | None = None,
        **changes: t.Any,
    ) -> dict[str, str]:
        """Log ``user`` in through the tool's OIDC login and build the signed launch the
        platform would post back (``{"id_token", "state"}``), without posting it."""
        conf = self.conf(key=key, **changes)
        registration = conf.get_registration()
        answer = client.get(
            "/lti/login",
            query_string={
                "iss": self.issuer,
                "login_hint": user.user_id,
                "target_link_uri": registration.get_launch_url(),
                "lti_message_hint": "resource-link-1",
                "client_id": registration.get_client_id(),
                "lti_deployment_id": registration.get_deployment_id(),
            },
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)
        sent = {k: v[0] for k, v in parse_qs(urlsplit(answer.location).query).items()}
        assert answer.location.startswith(f"{self.base}/auth?")
        message = Launch(platform_request("GET", get=sent), conf)
        message.set_id_token_expiration(expires_in)
        message.set_user_data(user.user_id, list(user.roles), user.name, user.email)
        message.set_launch_context_claim(COURSE, context_title="Welding 101")
        message.set_launch_presentation_claim(document_target="iframe", return_url=self.base)
        message.set_nrps(f"{self.base}/nrps")
        message.set_ags(f"{self.base}/lineitems", allow_creating_lineitems=False)
        if deep_link:
            message.set_dl(f"{self.base}/deep-link-return", accept_types={"ltiResourceLink"})
        else:
            message.set_resource_link_claim("resource-link-1", title="Badge")
            if placement is not None:
                message.set_custom_parameters_claim({"merkki_placement": str(placement)})
        if claims:
            # Set last, over the registration's own (e.g. another audience).
            message.set_extra_claims(claims)
        data = message.lti_launch()
        return {"id_token": data["id_token"], "state": data["state"]}

    def validate_deep_link_answer(self, jwt_value: str) -> list[dict[str, t.Any]]:
        """The content items of the tool's Deep Linking answer, checked by the platform."""
        return self.conf().validate_deeplinking_resp({"JWT": jwt_value})


def _service(resp: t.Any) -> tuple[int, t.Any, dict[str, str]]:
    # As lti1p3platform's own Django adapter (framework/django/response.py) serializes.
    if 200 <= resp.code < 300:
        body = resp.result["content"] if resp.result and "content" in resp.result else resp.result
        return resp.code, body, {"Content-Type": resp.media_type}
    return resp.code, {"error": resp.message}, {}


@dataclass
class Server:
    platform: Platform
    thread: threading.Thread
    server: t.Any


def serve(platform: Platform) -> Iterator[Platform]:
    """Run ``platform``'s HTTP side on a loopback port for the caller's ``with`` block."""
    server = make_server("127.0.0.1", 0, platform.wsgi, threaded=True)
    platform.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield platform
    finally:
        server.shutdown()
        thread.join(timeout=5)
