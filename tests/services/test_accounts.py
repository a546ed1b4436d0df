"""Staff accounts, passwords, the sign-in throttle, API tokens, the institution profile."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from issuer.core.keys import KeyStore
from issuer.models import Institution
from issuer.models.accounts import ApiToken, LoginThrottle, Role
from issuer.services import accounts, institutions
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError
from issuer.services.images import check_image
from issuer.services.institutions import InstitutionDetails

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def institution(session: Session, keystore: KeyStore) -> Institution:
    return institutions.create_institution(
        session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
    )


@pytest.fixture
def other(session: Session, keystore: KeyStore) -> Institution:
    return institutions.create_institution(
        session, InstitutionDetails(slug="tamk", name_fi="TAMK"), keystore
    )


# --- users and passwords -----------------------------------------------------------------------


def test_password_is_stored_as_argon2id_hash(session: Session, institution: Institution) -> None:
    created = accounts.create_user(
        session,
        institution=institution,
        email=" Opettaja@HAMK.fi ",
        role=Role.ISSUER,
        password=PASSWORD,
    )
    user = created.user
    assert user.email == "opettaja@hamk.fi"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert created.one_time_password is None
    assert not user.must_change_password


def test_production_hashes_at_argon2s_default_cost() -> None:
    # The test processes hash with FAST_HASHER (tests/conftest.py); the app's own hasher is
    # argon2id at argon2-cffi's default cost (RFC 9106's low-memory profile).
    from argon2 import PasswordHasher, Type

    from tests.conftest import PRODUCTION_HASHER

    defaults = PasswordHasher()
    assert PRODUCTION_HASHER.type is Type.ID
    assert PRODUCTION_HASHER.memory_cost == defaults.memory_cost >= 64 * 1024
    assert PRODUCTION_HASHER.time_cost == defaults.time_cost
    assert PRODUCTION_HASHER.parallelism == defaults.parallelism
    assert PRODUCTION_HASHER.hash(PASSWORD).startswith(
        f"$argon2id$v=19$m={defaults.memory_cost},t={defaults.time_cost},"
    )


def test_generated_password_is_one_time(session: Session, institution: Institution) -> None:
    created = accounts.create_user(
        session, institution=institution, email="uusi@hamk.fi", role=Role.ISSUER
    )
    assert created.one_time_password is not None
    assert len(created.one_time_password) >= 16
    assert created.user.must_change_password
    user = accounts.authenticate(
        session, "uusi@hamk.fi", created.one_time_password, client="1.2.3.4", now=T0
    )
    assert user is not None
    accounts.change_password(session, user, created.one_time_password, "my own new password")
    assert not user.must_change_password


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"email": "not-an-address", "role": Role.ISSUER}, InvalidInputError),
        ({"email": "x@hamk.fi", "role": Role.ISSUER, "password": "short"}, InvalidInputError),
        ({"email": "x@hamk.fi", "role": Role.SERVICE_ADMIN}, InvalidInputError),
    ],
)
def test_bad_users_are_refused(
    session: Session, institution: Institution, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        accounts.create_user(session, institution=institution, **kwargs)  # type: ignore[arg-type]


def test_institution_staff_need_an_institution_and_emails_are_unique(
    session: Session, institution: Institution
) -> None:
    with pytest.raises(InvalidInputError):
        accounts.create_user(session, institution=None, email="a@b.fi", role=Role.ISSUER)
    accounts.create_user(session, institution=institution, email="a@b.fi", role=Role.ISSUER)
    with pytest.raises(ConflictError):
        accounts.create_user(session, institution=institution, email="A@B.FI", role=Role.ISSUER)
    admin = accounts.create_user(
        session, institution=None, email="root@b.fi", role=Role.SERVICE_ADMIN
    )
    assert admin.user.institution_id is None


def test_authenticate_is_one_answer_for_every_failure(
    session: Session, institution: Institution
) -> None:
    user = accounts.create_user(
        session, institution=institution, email="t@hamk.fi", role=Role.ISSUER, password=PASSWORD
    ).user
    assert accounts.authenticate(session, "t@hamk.fi", "wrong", client="a", now=T0) is None
    assert accounts.authenticate(session, "nobody@hamk.fi", PASSWORD, client="b", now=T0) is None
    accounts.set_active(session, user, False, now=T0)
    assert accounts.authenticate(session, "t@hamk.fi", PASSWORD, client="c", now=T0) is None
    accounts.set_active(session, user, True)
    signed_in = accounts.authenticate(session, "T@hamk.fi", PASSWORD, client="c", now=T0)
    assert signed_in is user
    assert user.last_login_at == T0


def test_an_unknown_address_costs_an_argon2_verification(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As much work as a wrong password (no account enumeration by timing): the dummy hash is a
    # real argon2id hash, made once.
    checked: list[str] = []
    real_verify = accounts._verify

    def recording_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", recording_verify)
    for client in ("a", "b"):
        assert accounts.authenticate(session, "nobody@hamk.fi", PASSWORD, client=client) is None
    assert len(checked) == 2
    assert checked[0] == checked[1]
    assert checked[0].startswith("$argon2id$")


def test_importing_accounts_hashes_no_password() -> None:
    # Every CLI command imports the app: an argon2 hash at import cost each ~0.15 s and 64 MiB.
    probe = (
        "import sys, issuer.cli, issuer.services.accounts as a; "
        "sys.exit(a.dummy_password_hash.cache_info().misses)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_nobody_deactivates_themselves(session: Session, institution: Institution) -> None:
    user = accounts.create_user(
        session, institution=institution, email="t@hamk.fi", role=Role.INSTITUTION_ADMIN
    ).user
    with pytest.raises(InvalidInputError):
        accounts.set_active(session, user, False, by_user_id=user.id)


def test_session_stamp_changes_with_the_password(
    session: Session, institution: Institution
) -> None:
    user = accounts.create_user(
        session, institution=institution, email="t@hamk.fi", role=Role.ISSUER, password=PASSWORD
    ).user
    before = accounts.session_stamp(user)
    accounts.set_password(session, user, "a different long password")
    assert accounts.session_stamp(user) != before


@pytest.mark.parametrize("event", ["sign_out", "reset", "deactivate"])
def test_session_stamp_changes_on_sign_out_reset_and_deactivation(
    session: Session, institution: Institution, event: str
) -> None:
    user = accounts.create_user(
        session, institution=institution, email="t@hamk.fi", role=Role.ISSUER, password=PASSWORD
    ).user
    before = accounts.session_stamp(user)
    if event == "sign_out":
        accounts.sign_out(session, user.id, "a stale stamp")
        assert accounts.session_stamp(user) == before  # a stale cookie changes nothing
        accounts.sign_out(session, user.id, before)
    elif event == "reset":
        accounts.reset_password(session, user)
    else:
        accounts.set_active(session, user, False)
        accounts.set_active(session, user, True)
    session.commit()
    assert accounts.session_stamp(user) != before


def test_get_user_hides_other_institutions_staff(
    session: Session, institution: Institution, other: Institution
) -> None:
    theirs = accounts.create_user(
        session, institution=other, email="t@tamk.fi", role=Role.ISSUER
    ).user
    with pytest.raises(NotFoundError):
        accounts.get_user(session, institution, theirs.id)
    assert accounts.get_user(session, other, theirs.id) is theirs
    assert accounts.list_users(session, institution) == []


# --- throttle ----------------------------------------------------------------------------------


def test_throttle_counts_failures_in_a_window(session: Session, institution: Institution) -> None:
    accounts.create_user(
        session, institution=institution, email="t@hamk.fi", role=Role.ISSUER, password=PASSWORD
    )
    for minute in range(accounts.MAX_FAILURES):
        now = T0 + timedelta(minutes=minute)
        assert accounts.authenticate(session, "t@hamk.fi", "bad", client="ip", now=now) is None
    with pytest.raises(accounts.ThrottledError):
        accounts.authenticate(
            session, "t@hamk.fi", PASSWORD, client="ip", now=T0 + timedelta(minutes=10)
        )
    # Other clients and other addresses are counted apart.
    assert accounts.authenticate(session, "t@hamk.fi", PASSWORD, client="ip2", now=T0) is not None
    # After the window, the right password works again and clears the count.
    later = T0 + accounts.THROTTLE_WINDOW + timedelta(minutes=1)
    assert accounts.authenticate(session, "t@hamk.fi", PASSWORD, client="ip", now=later) is not None
    assert session.get(LoginThrottle, accounts.throttle_key("ip", "t@hamk.fi")) is None


def test_throttle_key_does_not_store_the_address_in_clear() -> None:
    key = accounts.throttle_key("192.0.2.1", "Someone@Example.fi")
    assert key == accounts.throttle_key("192.0.2.1", "someone@example.fi")
    assert "example" not in key
    assert len(key) == 64


# --- API tokens --------------------------------------------------------------------------------


def test_token_is_shown_once_and_stored_hashed(session: Session, institution: Institution) -> None:
    created = accounts.create_token(
        session, institution, name="Moodle", role=Role.ISSUER, created_by="admin@hamk.fi"
    )
    secret = created.secret
    assert secret.startswith(f"mk_{created.token.prefix}_")
    stored = session.get(ApiToken, created.token.id)
    assert stored is not None
    assert secret not in (stored.token_hash, stored.prefix)
    assert stored.token_hash == accounts.token_digest(secret)
    found = accounts.authenticate_token(session, secret, now=T0)
    assert found is not None
    assert found.id == created.token.id
    session.refresh(found)
    assert found.last_used_at == T0


def test_wrong_malformed_and_revoked_tokens_are_refused(
    session: Session, institution: Institution
) -> None:
    created = accounts.create_token(session, institution, name="x", created_by="t")
    secret = created.secret
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert accounts.authenticate_token(session, tampered) is None
    assert accounts.authenticate_token(session, "Bearer " + secret) is None
    assert accounts.authenticate_token(session, "") is None
    accounts.revoke_token(session, created.token)
    assert accounts.authenticate_token(session, secret) is None


def test_token_roles_and_names_are_checked(session: Session, institution: Institution) -> None:
    with pytest.raises(InvalidInputError):
        accounts.create_token(session, institution, name=" ", created_by="t")
    with pytest.raises(InvalidInputError):
        accounts.create_token(
            session, institution, name="x", role=Role.SERVICE_ADMIN, created_by="t"
        )


def test_tokens_of_other_institutions_are_not_found(
    session: Session, institution: Institution, other: Institution
) -> None:
    theirs = accounts.create_token(session, other, name="x", created_by="t").token
    with pytest.raises(NotFoundError):
        accounts.get_token(session, institution, theirs.id)
    assert accounts.list_tokens(session, institution) == []


# --- profile -----------------------------------------------------------------------------------


def test_profile_update_uses_the_creation_rules(session: Session, institution: Institution) -> None:
    details = InstitutionDetails(
        slug="hamk",
        name_fi="Hämeen ammattikorkeakoulu",
        name_sv="Tavastlands yrkeshögskola",
        name_en="HAMK University of Applied Sciences",
        url="https://www.hamk.fi",
        business_id="1629284-5",
        oid="1.2.246.562.10.12345678901",
        address_country="Suomi",
    )
    logo = check_image(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><rect/></svg>', filename="l.svg"
    )
    accounts.update_profile(
        session, institution, details, {"fi": " Kuvaus. ", "sv": "", "en": None}, logo=logo
    )
    assert institution.name_sv == "Tavastlands yrkeshögskola"
    assert institution.business_id == "1629284-5"
    assert institution.description_fi == "Kuvaus."
    assert institution.description_sv is None
    assert institution.logo is not None
    assert b"onload" not in institution.logo
    assert accounts.institution_description(institution, "sv") == "Kuvaus."
    for bad in (
        InstitutionDetails(slug="hamk", name_fi="HAMK", business_id="1629284-6"),
        InstitutionDetails(slug="hamk", name_fi="HAMK", oid="1.2.3"),
        InstitutionDetails(slug="hamk", name_fi="HAMK", url="ftp://x"),
        InstitutionDetails(slug="other", name_fi="HAMK"),
    ):
        with pytest.raises(InvalidInputError):
            accounts.update_profile(session, institution, bad, {})
    accounts.update_profile(session, institution, details, {}, remove_logo=True)
    assert institution.logo is None
