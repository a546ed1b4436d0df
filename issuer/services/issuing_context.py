"""What stays the same across many issuances, made once: ``IssuingContext``.

An issuing context holds the settings issuing needs (base URL, key store, the learners' key
secret: ``from_settings``, given the settings by its caller: the web layer, the CLI or a job
runner) and caches, within one transaction or one job's batches, what is the same for every
credential of a badge class and language: the achievement and the issuer profile (and their JSON
text), the private key, the proof configuration of a key and second (eddsa-rdfc-2022 §3.3.5: it
depends on neither the credential nor its recipient) and the learner's mail without the learner.
Every credential is still checked for undefined terms, canonicalized and signed in full
(``IssuingContext.sign``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.model import BadgeClassData
from issuer.core.canonical import assert_all_terms_defined, canonize_and_find_undefined_terms
from issuer.core.dataintegrity.cryptosuite import hash_data, proof_configuration, serialize_proof
from issuer.core.dataintegrity.signing import create_proof, sign
from issuer.core.did import verification_method_id
from issuer.core.errors import EngineError, UndefinedTermError
from issuer.core.keys import SigningKeyStore
from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.services import badge_classes, institutions, keys, mail, status
from issuer.services.credential_json import serialize
from issuer.services.errors import NotFoundError
from issuer.services.issue_input import complete_languages
from issuer.services.learner_keys import recipient_secret
from issuer.services.translation import N_, Message

# In the reader's language; a cohort row keeps the message to show it later (``bulk``).
_REQUIRES_MISSING = N_("badge class %(badge)s requires %(required)s, which does not exist")

if TYPE_CHECKING:
    # Only the type: the settings are handed in, never looked up in an application here.
    from issuer.config import Settings

#: Stand-ins written where a per-credential value goes in the learner's mail, made once per
#: batch. Private-use characters and a random part per process: no input can contain them by
#: accident or design.
_MARK = f"\ue000merkki-mail-{secrets.token_hex(8)}-"
_ID_MARK = f"{_MARK}id\ue000"
_NAME_MARK = f"{_MARK}name\ue000"
_MANAGE_MARK = f"{_MARK}manage\ue000"
#: Proof configurations kept (one per key, ``created`` second and context: a bulk job's batch
#: shares one).
_MAX_PROOF_CONFIGS = 16


def _signed_canonical(document: dict[str, Any]) -> str:
    """eddsa-rdfc-2022 §3.3.2 Transformation of a document whose every term must be defined
    (``dataintegrity.create_proof``'s guard: undefined terms would be dropped by
    canonicalization and go out unsigned), in one walk."""
    try:
        canonical, undefined = canonize_and_find_undefined_terms(document)
    except EngineError:
        assert_all_terms_defined(document)  # report undefined terms before anything else
        raise
    if undefined:
        raise UndefinedTermError(undefined)
    return canonical


@dataclass
class IssuingContext:
    """Settings and caches for issuing, within one transaction (or one job's batches): see
    the module docstring."""

    base_url: str
    keystore: SigningKeyStore
    secret: str
    _keys: dict[int, tuple[str, Ed25519PrivateKey]] = field(default_factory=dict)
    _achievements: dict[tuple[int, str, int | None], dict[str, Any]] = field(default_factory=dict)
    _profiles: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    #: id of a cached document -> (the document, kept alive; its ``serialize`` text).
    _texts: dict[int, tuple[dict[str, Any], str]] = field(default_factory=dict)
    _proofs: dict[tuple[Any, ...], tuple[Ed25519PrivateKey, dict[str, Any], str]] = field(
        default_factory=dict
    )
    _mails: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)
    #: Status lists per institution, as the allocators of earlier transactions left them.
    _lists: dict[int, dict[str, status.KnownList]] = field(default_factory=dict)
    _allocators: dict[int, status.Allocator] = field(default_factory=dict)
    #: Other services' per-context caches (e.g. which packages require a badge class).
    cache: dict[Any, Any] = field(default_factory=dict)
    _transaction: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        known_lists: dict[int, dict[str, status.KnownList]] | None = None,
    ) -> IssuingContext:
        """A context from ``settings`` (the caller's: the app's, the command's, the job's).

        ``known_lists``: what earlier transactions learnt about the status lists
        (``status.KnownList``, made to be kept across transactions: it may know too much or too
        little, never wrongly), to be kept and updated in place by this context; a web worker
        thread hands in its own, so that a request reads only the allocations added since, not
        every index of the list (that read grew with every credential the institution had
        issued: about 40 ms per list at 8,000 credentials on PostgreSQL; lists hold up to
        98,304)."""
        ctx = cls(
            base_url=settings.base_url,
            keystore=keys.keystore_for(settings),
            secret=recipient_secret(settings),
        )
        if known_lists is not None:
            ctx._lists = known_lists
        return ctx

    def new_transaction(self) -> None:
        """Forget what belongs to the previous transaction (the allocators, the current
        badge-class versions and signing keys read in it); the status lists are read again,
        from where the previous transaction left off."""
        self._allocators.clear()
        self._transaction.clear()

    def allocator(self, session: Session, institution: Institution) -> status.Allocator:
        allocator = self._allocators.get(institution.id)
        if allocator is None or allocator.session is not session:
            known = self._lists.setdefault(institution.id, {})
            allocator = status.Allocator(session, institution, self.base_url, known)
            self._allocators[institution.id] = allocator
        return allocator

    def signing_key(
        self, session: Session, institution: Institution
    ) -> tuple[str, Ed25519PrivateKey]:
        """(verification method, private key) of the institution's active key (read once per
        transaction; the decrypted key is kept while the active key stays the same)."""
        known = self._transaction.get(("key", institution.id))
        if known is not None:
            return known  # type: ignore[no-any-return]
        signing_key = keys.active_key(session, institution)
        cached = self._keys.get(institution.id)
        method = verification_method_id(
            institutions.institution_did(institution, self.base_url),
            signing_key.public_key_multibase,
        )
        if cached is None or cached[0] != method:
            cached = (method, keys.load_private_key(self.keystore, signing_key))
            self._keys[institution.id] = cached
        self._transaction[("key", institution.id)] = cached
        return cached

    def badge_class_version(
        self, session: Session, badge_class: BadgeClass
    ) -> tuple[BadgeClassVersion, BadgeClassData, list[str]]:
        """The current version, its parsed data and its complete languages (once per
        transaction)."""
        key = ("version", badge_class.id)
        known = self._transaction.get(key)
        if known is None:
            version = badge_classes.current_version(session, badge_class)
            bc = badge_classes.parsed(version)
            known = (version, bc, complete_languages(bc))
            self._transaction[key] = known
        return known

    def achievement(
        self,
        session: Session,
        institution: Institution,
        badge_class: BadgeClass,
        version: BadgeClassVersion,
        bc: BadgeClassData,
        lang: str,
    ) -> dict[str, Any]:
        """The OB 3.0 ``Achievement`` of ``version`` in ``lang`` (made once per context)."""
        # A badge class of the institution's own was defined by the institution; a national one
        # names its creator in the template (achievement_json's default).
        own = badge_class.institution_id is not None and bc.creator is None
        key = (version.id, lang, institution.id if own else None)
        cached = self._achievements.get(key)
        if cached is None:
            base_url, slug = self.base_url, bc.slug
            cached = achievement_json(
                bc,
                lang=lang,
                achievement_id=urls.achievement_url(base_url, slug, version.version, lang),
                image_url=badge_classes.image_url(base_url, version),
                related=[
                    (other, urls.achievement_url(base_url, slug, version.version, other))
                    for other in complete_languages(bc)
                    if other != lang
                ],
                creator_profile=self.profile(institution, lang) if own else None,
                components=_components(session, bc, base_url, lang),
            )
            self._achievements[key] = cached
        return cached

    def profile(self, institution: Institution, lang: str) -> dict[str, Any]:
        key = (institution.id, lang)
        if key not in self._profiles:
            self._profiles[key] = institutions.profile(institution, self.base_url, lang)
        return self._profiles[key]

    def text(self, document: dict[str, Any]) -> str:
        """``serialize(document)`` of a cached document (an achievement, a profile), made once."""
        known = self._texts.get(id(document))
        if known is None or known[0] is not document:
            known = (document, serialize(document))
            self._texts[id(document)] = known
        return known[1]

    def sign(
        self, unsigned: dict[str, Any], private_key: Ed25519PrivateKey, method: str, created: str
    ) -> dict[str, Any]:
        """``dataintegrity.sign(unsigned, private_key, method, created=created)``, the same
        result, with the proof configuration made once per key, second and context.

        The first document of a key and ``created`` goes through ``create_proof`` (which also
        checks that ``method`` names ``private_key`` and that the options' terms are defined);
        the rest take the steps of eddsa-rdfc-2022 §3.3.1 with its canonical proof
        configuration: transformation (with the undefined-term guard), hashing, signing.
        """
        context = unsigned.get("@context")
        if "proof" in unsigned or not isinstance(context, list):
            return sign(unsigned, private_key, method, created=created)
        key = (id(private_key), method, created, json.dumps(context))
        known = self._proofs.get(key)
        if known is None or known[0] is not private_key:
            proof = create_proof(unsigned, private_key, method, created=created)
            options = {name: value for name, value in proof.items() if name != "proofValue"}
            if len(self._proofs) >= _MAX_PROOF_CONFIGS:
                self._proofs.clear()
            self._proofs[key] = (private_key, options, proof_configuration(options, context))
            return {**unsigned, "proof": [proof]}
        _, options, configuration = known
        canonical = _signed_canonical(unsigned)
        proof_value = serialize_proof(hash_data(configuration, canonical), private_key)
        return {**unsigned, "proof": [{**options, "proofValue": proof_value}]}

    def mail_template(
        self, institution: Institution, lang: str, badge_name: str
    ) -> tuple[str, str]:
        """(subject, body) of the learner's mail (``mail.queue_credential_mail``), with marks
        where the credential id, the learner's name and the manage link go (``mail_text``)."""
        key = (institution.id, institution.name(lang), lang, badge_name)
        known = self._mails.get(key)
        if known is None:
            probe = Credential(id=_ID_MARK, lang=lang, recipient_name=_NAME_MARK)
            scratch = Session()  # unbound: the probe mail is made, never written
            try:
                made = mail.queue_credential_mail(
                    scratch,
                    credential=probe,
                    email="",
                    badge_name=badge_name,
                    institution=institution,
                    manage_url=_MANAGE_MARK,
                    base_url=self.base_url,
                )
                known = (made.subject, made.body)
            finally:
                scratch.close()
            self._mails[key] = known
        return known


def mail_text(template: str, credential_id: str, name: str, manage_link: str) -> str:
    """``template`` (``IssuingContext.mail_template``) for one credential. The name goes in
    last, so nothing in it is taken for a mark."""
    return (
        template.replace(_MANAGE_MARK, manage_link)
        .replace(_ID_MARK, credential_id)
        .replace(_NAME_MARK, name)
    )


def _components(
    session: Session, bc: BadgeClassData, base_url: str, lang: str
) -> list[tuple[str, str]]:
    """(name, achievement id) of the badge classes a package requires, at their current
    versions."""
    components = []
    for slug in bc.requires:
        required = badge_classes.find_badge_class(session, slug)
        if required is None:
            raise NotFoundError(
                Message(_REQUIRES_MISSING, badge=repr(bc.slug), required=repr(slug))
            )
        version = badge_classes.current_version(session, required)
        name = badge_classes.parsed(version).name.get(lang)
        components.append((name, urls.achievement_url(base_url, slug, version.version, lang)))
    return components
