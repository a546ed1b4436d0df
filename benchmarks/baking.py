"""Baking figures: a signed credential into the badge image (PNG iTXt, SVG element) and out;
and the printable certificate PDF made from the same artwork.

Issue 6 sets no target for these. Baselines: reading the PNG's chunk list and parsing the SVG
with defusedxml, the least work each direction must do; for the certificate, the QR code it
carries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as SafeET

from benchmarks.fixtures import make_issuer, micro_credentials, template_svg
from benchmarks.report import Figure, Report, millis, rate
from benchmarks.timing import measure
from issuer.core.baking import bake_png, bake_svg, png_chunks, unbake_png, unbake_svg
from issuer.core.dataintegrity.signing import sign
from issuer.core.qr import qr_png
from issuer.services.certificate import CertificateContent, CertificateLabels, build_pdf


def template_png(svg: bytes) -> bytes:
    """The template rendered to PNG as the service renders it (512 px, resvg)."""
    from issuer.web.learner.artwork import render_png

    return render_png(svg)


def run(report: Report, quick: bool = False) -> None:
    seconds = 0.4 if quick else 1.5
    issuer = make_issuer()
    texts = [
        json.dumps(
            sign(
                document,
                issuer.private_key,
                issuer.verification_method,
                created=document["validFrom"],
            ),
            ensure_ascii=False,
        )
        for document in micro_credentials(issuer, 10 if quick else 50)
    ]
    svg = template_svg()
    png = template_png(svg)
    report.start(
        "baking: OB 3.0 credential into and out of the badge image",
        f"images: template SVG {len(svg):,} bytes, rendered PNG {len(png):,} bytes; "
        f"credential {len(texts[0].encode()):,} bytes of JSON",
    )
    baked_png = [bake_png(png, text) for text in texts]
    baked_svg = [bake_svg(svg, text) for text in texts]
    if unbake_png(baked_png[0]) is None or unbake_svg(baked_svg[0]) is None:
        raise RuntimeError("baked images do not carry the credential")

    png_parse = measure(png_chunks, [png], seconds=seconds / 3)
    svg_parse = measure(SafeET.fromstring, [svg], seconds=seconds / 3)
    cases: list[tuple[str, Any, list[Any], str]] = [
        ("bake PNG", lambda text: bake_png(png, text), texts, f"PNG chunk read {_of(png_parse)}"),
        ("unbake PNG", unbake_png, baked_png, f"PNG chunk read {_of(png_parse)}"),
        ("bake SVG", lambda text: bake_svg(svg, text), texts, f"SVG parse {_of(svg_parse)}"),
        ("unbake SVG", unbake_svg, baked_svg, f"SVG parse {_of(svg_parse)}"),
    ]
    for name, function, inputs, baseline in cases:
        result = measure(function, inputs, seconds=seconds)
        report.add(
            Figure(
                f"{name} throughput, one core",
                f"{rate(result.per_second, 'images')}, median {millis(result.median_s)}",
                "- (none set)",
                baseline,
            )
        )

    certificate = _certificate(png)
    result = measure(build_pdf, [certificate], seconds=seconds, min_calls=3, warmup=1)
    qr = measure(qr_png, [certificate.verify_url], seconds=seconds / 3)
    report.add(
        Figure(
            "certificate PDF built, uncached, one core",
            f"median {millis(result.median_s)}, {len(build_pdf(certificate)):,} bytes",
            "- (none set)",
            f"its QR code alone {millis(qr.median_s)}",
        )
    )


def _certificate(png: bytes) -> CertificateContent:
    """A typical certificate: the template artwork as badge and logo, Finnish texts."""
    labels = CertificateLabels(
        *("Todistus", "Myönnetty", "Merkki", "Myöntäjä", "Myöntämispäivä"),
        *("Voimassa %(date)s asti", "Oppimistulokset", "Tiedot", "Tarkista tämä merkki"),
        *(
            "Lue koodi tai avaa linkki:",
            "Merkin tunniste",
            "Sivu %(page)s/%(pages)s",
            "Lyhennetty:",
        ),
    )
    credential_id = "0123456789abcdef0123456789abcdef"
    return CertificateContent(
        lang="fi",
        holder="Máret Ánde Čuđđe-Ŋuolla",
        badge_name="Ennakointiosaaminen",
        description="Osaamiskokonaisuus vahvistaa henkilöstön valmiuksia seurata työelämää. " * 3,
        issuer_name="Hämeen ammattikorkeakoulu",
        issued_at=datetime(2026, 12, 4, 10, tzinfo=UTC),
        valid_until=datetime(2028, 12, 4, 10, tzinfo=UTC),
        verify_url=f"http://127.0.0.1:5000/verify/{credential_id}",
        page_url=f"http://127.0.0.1:5000/credentials/{credential_id}",
        credential_id=credential_id,
        labels=labels,
        learning_outcomes=("Osallistuja osaa hakea ja arvioida ennakointitietoa kriittisesti.",)
        * 4,
        issuer_facts=(("", "https://www.hamk.fi"), ("Y-tunnus", "1234567-1")),
        facts=(("Taso", "EQF 6"), ("Työmäärä", "3 opintopistettä (ECTS), 81 tuntia")) * 2
        + (("Arviointi", "Portfolio, jonka opettaja arvioi julkaistujen kriteerien mukaan."),),
        badge_image=png,
        logo=png,
    )


def _of(measurement: Any) -> str:
    return f"{rate(measurement.per_second, 'images')}"
