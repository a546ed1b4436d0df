"""The national badge classes shipped in ``badge_templates/``: valid, EU-complete, fully
translated, producing clean OB 3.0 achievements, with safe artwork."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree
from jsonschema import Draft201909Validator

from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.eu_profile import eu_facts
from issuer.core.badgeclass.fileformat import (
    FILE_FIELDS,
    BadgeClassError,
    load_badge_template,
    load_badge_templates,
    parse_badge_class,
)
from issuer.core.badgeclass.model import BadgeClassData, missing_translations
from issuer.core.canonical import find_undefined_terms
from issuer.core.contexts import OB_V3, VC_V2
from issuer.core.eu_vocabularies import LANGUAGES
from tests.spec_files import load_json

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "badge_templates"
FOLDERS = sorted(path for path in TEMPLATES_DIR.iterdir() if path.is_dir())
SLUGS = [folder.name for folder in FOLDERS]
BASE = "https://merkki.example/badges"
SVG = "{http://www.w3.org/2000/svg}"

#: DESIGN.md "Domain seeds": the five POKOT core competence areas.
POKOT_AREAS = {
    "Ennakointiosaaminen": "Foresight competence",
    "Asiakaslähtöinen kumppanuusosaaminen": "Customer-oriented partnership competence",
    "Pedagoginen kehittämisosaaminen": "Pedagogical development competence",
    "Strateginen- ja prosessiosaaminen": "Strategic and process competence",
    "Uudistumiskyky ja innovaatio-osaaminen": "Capacity for renewal and innovation competence",
}


@pytest.fixture(scope="module")
def templates() -> dict[str, BadgeClassData]:
    return {template.slug: template for template in load_badge_templates(TEMPLATES_DIR)}


def test_the_catalogue(templates: dict[str, BadgeClassData]) -> None:
    assert list(templates) == sorted(SLUGS)
    pokot = [t for t in templates.values() if "POKOT" in t.tags]
    assert {t.name["fi"]: t.name["en"] for t in pokot} == POKOT_AREAS
    modules = [t for t in templates.values() if "VALOHUB" in t.tags and not t.requires]
    assert len(modules) >= 6
    packages = [t for t in templates.values() if t.requires]
    assert len(packages) >= 1


@pytest.mark.parametrize("slug", SLUGS)
def test_template_is_a_complete_micro_credential(slug: str) -> None:
    data = json.loads((TEMPLATES_DIR / slug / "badge.json").read_text("utf-8"))
    assert set(data) <= set(FILE_FIELDS)
    template = load_badge_template(TEMPLATES_DIR / slug)
    assert template.slug == slug
    assert template.achievement_type == "MicroCredential"
    assert missing_translations(template) == []
    assert 3 <= len(template.learning_outcomes) <= 5
    assert template.workload is not None
    assert template.workload.ects is not None
    assert template.workload.hours is not None
    # Finland: 1 ECTS credit = 27 hours of the learner's work.
    assert template.workload.hours == 27 * template.workload.ects
    if not template.requires:
        assert 1 <= template.workload.ects <= 5
    assert template.eqf_level is not None
    assert 5 <= template.eqf_level <= 7
    assert template.nqf_level == template.eqf_level
    for optional in ("assessment_description", "prerequisites", "supervision", "stackability"):
        assert getattr(template, optional) is not None, optional
    assert template.creator is not None
    assert template.creator.profile_id
    assert template.human_code
    assert template.competence_areas
    # Every EU fact row exists in every language, with the same number of rows.
    rows = [eu_facts(template, lang) for lang in LANGUAGES]
    assert len({len(r) for r in rows}) == 1
    assert len(rows[0]) >= 9


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_template_achievement_has_no_undefined_terms(slug: str, lang: str) -> None:
    template = load_badge_template(TEMPLATES_DIR / slug)
    achievement = _achievement(template, lang)
    assert achievement["inLanguage"] == lang
    assert achievement["name"] == template.name[lang]
    assert find_undefined_terms(_credential(achievement)) == []


@pytest.mark.shared
@pytest.mark.parametrize("slug", SLUGS)
def test_template_achievement_validates_against_the_ob_schema(slug: str) -> None:
    validator = Draft201909Validator(
        load_json("schemas/ob-v3p0-json/ob_v3p0_achievementcredential_schema.json")
    )
    template = load_badge_template(TEMPLATES_DIR / slug)
    for lang in LANGUAGES:
        credential = _credential(_achievement(template, lang))
        assert [error.message for error in validator.iter_errors(credential)] == []


def test_package_requires_modules(templates: dict[str, BadgeClassData]) -> None:
    for package in (t for t in templates.values() if t.requires):
        assert len(package.requires) >= 2
        components = [templates[slug] for slug in package.requires]
        assert all(not component.requires for component in components)
        assert package.workload is not None
        assert package.workload.ects is not None
        total = sum(c.workload.ects or 0 for c in components if c.workload is not None)
        assert package.workload.ects >= total
        links = [(c.name["fi"], f"{BASE}/{c.slug}/v1/fi") for c in components]
        achievement = achievement_json(
            package, lang="fi", achievement_id=f"{BASE}/{package.slug}/v1/fi", components=links
        )
        required = [
            entry["targetUrl"]
            for entry in achievement["alignment"]
            if entry["targetType"] == "ext:RequiredAchievement"
        ]
        assert required == [url for _, url in links]
        assert find_undefined_terms(_credential(achievement)) == []


def test_a_package_naming_a_missing_module_is_refused(tmp_path: Path) -> None:
    for slug in ("valohub-opettajan-kehittymispaketti", "valohub-digipedagogiikka"):
        (tmp_path / slug).mkdir()
        for name in ("badge.json", "image.svg"):
            (tmp_path / slug / name).write_bytes((TEMPLATES_DIR / slug / name).read_bytes())
    with pytest.raises(BadgeClassError) as raised:
        load_badge_templates(tmp_path)
    assert [error.field for error in raised.value.errors] == [
        "requires.0",
        "requires.1",
        "requires.2",
    ]


def test_template_folder_problems_are_reported(tmp_path: Path) -> None:
    source = TEMPLATES_DIR / "valohub-mentorointi" / "badge.json"
    folder = tmp_path / "wrong-name"
    folder.mkdir()
    (folder / "badge.json").write_bytes(source.read_bytes())
    with pytest.raises(BadgeClassError) as raised:
        load_badge_template(folder)
    assert [error.field for error in raised.value.errors] == ["slug", "image"]
    (folder / "badge.json").write_text("{not json", "utf-8")
    with pytest.raises(BadgeClassError) as raised:
        load_badge_template(folder)
    assert raised.value.errors[0].code == "json"


@pytest.mark.shared
def test_esco_uris_are_confirmed_by_the_elm_sample(templates: dict[str, BadgeClassData]) -> None:
    # Only ESCO concepts that the EU's own ELM example uses, with the same English label.
    sample = json.dumps(load_json("samples/eu-elm-edc/AA-Annex1-MC-unsigned.json"))
    used = [skill for template in templates.values() for skill in template.esco_skills]
    assert used
    for skill in used:
        assert skill.uri in sample
        assert json.dumps(skill.name["en"]) in sample


def test_readme_documents_every_field() -> None:
    readme = (TEMPLATES_DIR / "README.md").read_text("utf-8")
    for field in FILE_FIELDS:
        assert f"`{field}`" in readme, field
    for sub_field in ("hours", "ects", "competence_points", "uri", "url", "id"):
        assert f"`{sub_field}`" in readme, sub_field


def test_readme_example_is_valid() -> None:
    readme = (TEMPLATES_DIR / "README.md").read_text("utf-8")
    [example] = re.findall(r"```json\n(.*?)```", readme, re.S)
    parse_badge_class(json.loads(example))


# --- artwork -----------------------------------------------------------------------------------

#: SVG elements the artwork may use: shapes, groups and gradients, nothing that runs, fetches or
#: needs a particular font.
ALLOWED_ELEMENTS = {
    "svg", "g", "path", "circle", "ellipse", "rect", "line", "polyline", "polygon",
    "defs", "linearGradient", "radialGradient", "stop", "title", "desc",
}  # fmt: skip


def _elements(root: Element) -> list[Element]:
    return list(root.iter())


@pytest.mark.parametrize("slug", SLUGS)
def test_artwork_is_simple_and_self_contained(slug: str) -> None:
    path = TEMPLATES_DIR / slug / "image.svg"
    text = path.read_text("utf-8")
    assert len(text.encode()) < 20_000
    root = ElementTree.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 512 512"
    for element in _elements(root):
        assert element.tag.startswith(SVG), element.tag
        assert element.tag[len(SVG) :] in ALLOWED_ELEMENTS, element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert not name.endswith("href") or value.startswith("#"), (name, value)
            assert "url(" not in value or re.fullmatch(r"url\(#[\w-]+\)", value), value
            assert "javascript:" not in value.lower()
    assert "<script" not in text.lower()
    assert "<!entity" not in text.lower()


def test_artwork_colours_follow_the_competence_area(templates: dict[str, BadgeClassData]) -> None:
    colours: dict[str, set[str]] = {}
    for template in templates.values():
        if len(template.competence_areas) != 1:
            continue
        root = ElementTree.fromstring((TEMPLATES_DIR / template.slug / "image.svg").read_bytes())
        fills = {e.get("fill") for e in _elements(root)} - {None, "none", "#ffffff"}
        colours.setdefault(template.competence_areas[0], set()).update(str(f) for f in fills)
    # One palette per area, and no two areas share a colour.
    assert len(colours) == 5
    for area, palette in colours.items():
        assert len(palette) == 2, area
    every = [colour for palette in colours.values() for colour in palette]
    assert len(every) == len(set(every))


# --- helpers -----------------------------------------------------------------------------------


def _achievement(template: BadgeClassData, lang: str) -> dict[str, Any]:
    achievement_id = f"{BASE}/{template.slug}/v1/{lang}"
    return achievement_json(
        template,
        lang=lang,
        achievement_id=achievement_id,
        image_url=f"{BASE}/{template.slug}/v1/image.svg",
        related=[
            (other, f"{BASE}/{template.slug}/v1/{other}") for other in LANGUAGES if other != lang
        ],
    )


def _credential(achievement: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [VC_V2, OB_V3],
        "id": "urn:uuid:0f6a3c56-8a4e-4f4c-a0f2-5d2b9a7c1e20",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": "did:web:merkki.example:issuers:hamk",
            "type": ["Profile"],
            "name": "HAMK",
        },
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "type": ["AchievementSubject"],
            "achievement": achievement,
        },
    }


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def _template_copy(tmp_path: Path, change: Any) -> Path:
    slug = "valohub-mentorointi"
    folder = tmp_path / slug
    folder.mkdir()
    for item in (TEMPLATES_DIR / slug).iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    data = json.loads((folder / "badge.json").read_text("utf-8"))
    change(data)
    (folder / "badge.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return folder


def test_a_template_with_tabs_and_crlf_loads_normalised(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["name"]["fi"] = "Mento\trointi"
        data["description"]["fi"] = "Rivi 1\r\nRivi\t2"

    template = load_badge_template(_template_copy(tmp_path, change))
    assert template.name["fi"] == "Mento rointi"
    assert template.description["fi"] == "Rivi 1\nRivi 2"


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
def test_a_template_with_a_control_character_is_refused_naming_the_field(
    tmp_path: Path, character: str
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["description"]["sv"] = f"Text{character}"

    with pytest.raises(BadgeClassError) as raised:
        load_badge_template(_template_copy(tmp_path, change))
    [error] = raised.value.errors
    assert (error.field, error.code) == ("description", "control_character")
    assert "description.sv" in error.message
