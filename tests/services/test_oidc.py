"""Sign-in provider settings and the account verified claims stand for
(``issuer.services.oidc``). One SQLite app for the module; each test rolls its changes back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from issuer import create_app
from issuer.core.keys import KeyStore
from issuer.db import dispose, get_session
from issuer.models import Institution
from issuer.models.accounts import Role
from issuer.models.oidc import OidcProvider
from issuer.services import accounts, institutions, oidc
from issuer.services.audit import SystemActor
from issuer.services.errors import ConflictError, NotFoundError
from issuer.services.institutions import InstitutionDetails
from issuer.services.issue_input import FieldErrors
from tests.conftest import BACKENDS, BASE_URL, PASSPHRASE, migrated_database

ISSUER = "https://login.example.fi"
SETTINGS = oidc.ProviderSettings(
    display_name="Haka",
    issuer=ISSUER,
    client_id="merkki",
    client_secret="s3cret",
    allowed_domains="a.fi",
    role_claim="groups",
    role_map="admins = institution_admin",
)


@pytest.fixture(scope="module", params=BACKENDS)
def module_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("oidc-services")
    database_url = migrated_database(request, folder)
    app = create_app(
        {
            "TESTING": True,
            "BASE_URL": BASE_URL,
            "DATABASE_URL": database_url,
            "KEYS_DIR": folder / "keys",
            "KEY_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "test secret key",
            "BADGE_TEMPLATES_DIR": folder / "templates",
        }
    )
    keystore = KeyStore(folder / "keys", PASSPHRASE)
    with app.app_context():
        session = get_session()
        for slug in ("a", "b"):
            institutions.create_institution(
                session, InstitutionDetails(slug=slug, name_fi=f"Oppilaitos {slug}"), keystore
            )
        session.commit()
    yield app
    dispose(app)


@pytest.fixture
def db(module_app: Flask) -> Iterator[Session]:
    """A session whose changes are rolled back after the test."""
    with module_app.app_context():
        session = get_session()
        yield session
        session.rollback()


def _institution(session: Session, slug: str) -> Institution:
    return institutions.get_institution(session, slug)


def _provider(session: Session, **changes: Any) -> OidcProvider:
    settings = dataclasses.replace(SETTINGS, **changes)
    return oidc.set_provider(
        session, _institution(session, "a"), settings, actor=SystemActor(), passphrase=PASSPHRASE
    )


def _claims(sub: str, email: str | None, **more: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"iss": ISSUER, "sub": sub, **more}
    if email is not None:
        claims["email"] = email
    return claims


def test_settings_are_checked_field_by_field(db: Session) -> None:
    with pytest.raises(FieldErrors) as refused:
        _provider(
            db,
            display_name=" ",
            issuer="http://login.example.fi",
            client_id="",
            allowed_domains="a.fi bad_domain",
            email_claim="e mail",
            role_map="admins = superuser",
        )
    assert {error.field: error.code for error in refused.value.errors} == {
        "display_name": "required",
        "issuer": "invalid_issuer",
        "client_id": "required",
        "allowed_domains": "invalid_domain",
        "email_claim": "invalid_claim",
        "role_map": "invalid_role_map",
    }
    with pytest.raises(FieldErrors, match="role_claim"):
        _provider(db, role_claim="")
    assert oidc.parse_domains("@A.fi, b.fi\nA.FI.") == ["a.fi", "b.fi"]


def test_the_secret_is_sealed_to_its_institution_and_kept_when_not_given(db: Session) -> None:
    provider = _provider(db)
    assert provider.client_secret_sealed is not None
    assert "s3cret" not in provider.client_secret_sealed
    assert "s3cret" not in str(oidc.provider_json(provider))
    assert oidc.client_secret(provider, PASSPHRASE) == "s3cret"
    _provider(db, client_secret=None, display_name="Haka 2")
    assert oidc.client_secret(provider, PASSPHRASE) == "s3cret"
    # A sealed box moved to another institution's row does not open there.
    provider.institution_id = _institution(db, "b").id
    with pytest.raises(oidc.SecretUnreadableError):
        oidc.client_secret(provider, PASSPHRASE)
    provider.institution_id = _institution(db, "a").id
    _provider(db, client_secret="")
    assert oidc.client_secret(provider, PASSPHRASE) is None


def test_disabled_or_missing_providers_offer_no_sign_in(db: Session) -> None:
    with pytest.raises(NotFoundError):
        oidc.provider_for_sign_in(db, "a")
    _provider(db)
    assert [i.slug for i, _ in oidc.sign_in_choices(db)] == ["a"]
    oidc.disable_provider(db, _institution(db, "a"), actor=SystemActor())
    assert oidc.sign_in_choices(db) == []
    with pytest.raises(NotFoundError):
        oidc.provider_for_sign_in(db, "a")


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        (_claims("s1", None), "no_email"),
        (_claims("s1", "not an address"), "no_email"),
        (_claims("s1", "x@a.fi", email_verified=False), "email_unverified"),
        (_claims("s1", "x@sub.a.fi"), "domain_not_allowed"),
        (_claims("s1", "x@a.fi", iss="https://other.example"), "other_person"),
    ],
)
def test_unusable_claims_are_refused(db: Session, claims: dict[str, Any], code: str) -> None:
    provider = _provider(db)
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(db, _institution(db, "a"), provider, claims)
    assert refused.value.code == code


def test_accounts_are_never_taken_from_others(db: Session) -> None:
    provider = _provider(db)
    a = _institution(db, "a")
    root = accounts.create_user(
        db, institution=None, email="root@a.fi", role=Role.SERVICE_ADMIN, password="x" * 12
    ).user
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(db, a, provider, _claims("s-root", root.email, groups=["admins"]))
    assert refused.value.code == "other_institution"
    first = oidc.sign_in(db, a, provider, _claims("s-1", "kaisa@a.fi", groups="admins"))
    assert first.role is Role.INSTITUTION_ADMIN
    assert first.password_hash == oidc.NO_PASSWORD
    # The same address from another person at the provider: the address was reassigned.
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(db, a, provider, _claims("s-2", "kaisa@a.fi"))
    assert refused.value.code == "other_person"
    # The linked person is found by (iss, sub), whatever address they now have.
    assert oidc.sign_in(db, a, provider, _claims("s-1", "kaisa.uusi@a.fi")).id == first.id
    accounts.set_active(db, first, False)
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.sign_in(db, a, provider, _claims("s-1", "kaisa@a.fi"))
    assert refused.value.code == "deactivated"
    # Without update_role the mapping applies only when the account is made.
    first.active = True
    assert (
        oidc.sign_in(db, a, provider, _claims("s-1", "kaisa@a.fi")).role is Role.INSTITUTION_ADMIN
    )


def test_resealing_moves_the_client_secret_to_the_new_passphrase(db: Session) -> None:
    provider = _provider(db)
    assert oidc.client_secret(provider, PASSPHRASE) == SETTINGS.client_secret
    # Between the restart with the new passphrase and the rewrap: the old one, now previous,
    # still opens the secret.
    assert oidc.client_secret(provider, "new", (PASSPHRASE,)) == SETTINGS.client_secret

    assert oidc.reseal_secrets(db, ("new", PASSPHRASE), "new") == 1
    assert oidc.client_secret(provider, "new") == SETTINGS.client_secret
    with pytest.raises(oidc.SecretUnreadableError):
        oidc.client_secret(provider, PASSPHRASE)  # the old passphrase is gone

    # A secret no given passphrase opens stops the change, naming the institution.
    with pytest.raises(ConflictError, match=f"institution {provider.institution_id}"):
        oidc.reseal_secrets(db, (PASSPHRASE,), "a third")
    assert oidc.client_secret(provider, "new") == SETTINGS.client_secret
