"""Real signed C2PA files for the tests: a throwaway CA made here, Pillow images signed offline with `c2pa.Builder`."""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from .builders import write_exr

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
LEAF_NAME = "Throwaway Test Leaf"
ORGANIZATION = "Provenance Tests"


@dataclass(frozen=True)
class ThrowawayCA:
    """A root CA and one signing leaf (ES256), valid for a day either side of now."""

    root_pem: bytes
    chain_pem: bytes
    """Leaf then root, as the signer embeds them."""
    key_pem: bytes

    def signer(self) -> Any:
        """A fresh `c2pa.Signer`: ES256 with no timestamp authority, so signing stays offline."""
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain_pem, self.key_pem, None)
        return c2pa.Signer.from_info(info)


def make_test_ca(common_name: str = LEAF_NAME) -> ThrowawayCA:
    """A root and a leaf as c2pa-rs wants them: digitalSignature, emailProtection, SKI and AKI."""
    now = dt.datetime.now(dt.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Throwaway Test Root")
    root = (
        _certificate(root_name, root_name, root_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=False, key_cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        _certificate(_name(common_name), root_name, leaf_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    root_pem = root.public_bytes(serialization.Encoding.PEM)
    return ThrowawayCA(
        root_pem=root_pem,
        chain_pem=leaf.public_bytes(serialization.Encoding.PEM) + root_pem,
        key_pem=leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _key_usage(*, digital_signature: bool, key_cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- images and manifests ----------------------------------------------------------------


def image_bytes(seed: str, image_format: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small noisy Pillow image (JPEG or PNG) from a seed."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


# Thumbnails cost time and say nothing the tests look at.
_BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


def sign(
    ca: ThrowawayCA,
    manifest: dict[str, Any],
    asset: bytes,
    mime: str,
    *,
    ingredients: tuple[tuple[dict[str, Any], bytes, str], ...] = (),
    sidecar: bool = False,
) -> tuple[bytes, bytes]:
    """Sign `asset`; returns (the signed asset, the manifest store bytes).

    Each ingredient is (ingredient JSON, its bytes, its MIME type). With `sidecar` the manifest
    is not embedded (the asset comes back unchanged), which is how an EXR or DPX frame is signed.
    """
    context = c2pa.Context.from_dict(_BUILDER_SETTINGS)
    try:
        with c2pa.Builder(manifest, context=context) as builder:
            for definition, data, ingredient_mime in ingredients:
                builder.add_ingredient(definition, ingredient_mime, io.BytesIO(data))
            if sidecar:
                builder.set_no_embed()
            signed = io.BytesIO()
            with ca.signer() as signer:
                store = builder.sign(signer, mime, io.BytesIO(asset), signed)
    finally:
        context.close()
    return signed.getvalue(), bytes(store)


def write_signed(
    path: Path,
    ca: ThrowawayCA,
    manifest: dict[str, Any],
    asset: bytes,
    mime: str = "image/jpeg",
    *,
    ingredients: tuple[tuple[dict[str, Any], bytes, str], ...] = (),
) -> Path:
    """Sign `asset` with its manifest embedded, and write it to `path`."""
    signed, _ = sign(ca, manifest, asset, mime, ingredients=ingredients)
    path.write_bytes(signed)
    return path


def created_manifest(
    title: str,
    source_type: str,
    agent: str | dict[str, str] | None,
    *,
    generator: str = "Adobe Firefly",
    label: str = "c2pa.actions",
) -> dict[str, Any]:
    action: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": source_type}
    if agent is not None:
        action["softwareAgent"] = agent
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": title,
        "assertions": [{"label": label, "data": {"actions": [action]}}],
    }


@dataclass(frozen=True)
class C2paFiles:
    """The signed files of one test session, and the CA that signed them."""

    ca: ThrowawayCA
    ai_jpeg: Path
    """(a) `c2pa.created`, trainedAlgorithmicMedia, softwareAgent "Adobe Firefly" (a string)."""
    composite_jpeg: Path
    """(b) a plate opened and the AI image placed as a `componentOf` ingredient."""
    v2_png: Path
    """(c) `c2pa.actions.v2`, an https:// source type, softwareAgent {name, version}."""
    human_jpeg: Path
    """(d) `c2pa.created` as digitalCreation in Photoshop."""
    capture_jpeg: Path
    """(d) `c2pa.created` as digitalCapture by a camera."""
    adobe_jpeg: Path
    """digitalCreation, with Adobe's older `com.adobe.generative-ai` assertion beside it."""
    plain_jpeg: Path
    """64 KiB-ish, no manifest."""
    exr_with_sidecar: Path
    """A real OpenEXR frame with `plate.c2pa` beside it (trainedAlgorithmicMedia)."""


def write_c2pa_files(folder: Path, ca: ThrowawayCA) -> C2paFiles:
    """Make every signed file the tests read (about a tenth of a second in all)."""
    folder.mkdir(parents=True, exist_ok=True)

    ai_jpeg = write_signed(
        folder / "sky_gen.jpg",
        ca,
        created_manifest("sky_gen.jpg", IPTC + "trainedAlgorithmicMedia", "Adobe Firefly"),
        image_bytes("ai"),
    )

    nuke = {"name": "Nuke", "version": "15.1"}
    composite_manifest = {
        "claim_generator_info": [nuke],
        "title": "comp.jpg",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.opened",
                            "softwareAgent": nuke,
                            "parameters": {"ingredientIds": ["plate"]},
                        },
                        {
                            "action": "c2pa.placed",
                            "softwareAgent": nuke,
                            "parameters": {"ingredientIds": ["sky"]},
                        },
                    ]
                },
            }
        ],
    }
    composite_jpeg = write_signed(
        folder / "comp.jpg",
        ca,
        composite_manifest,
        image_bytes("comp"),
        ingredients=(
            (
                {"title": "plate_v001.jpg", "relationship": "parentOf", "label": "plate"},
                image_bytes("plate"),
                "image/jpeg",
            ),
            (
                {"title": "sky_gen.jpg", "relationship": "componentOf", "label": "sky"},
                ai_jpeg.read_bytes(),
                "image/jpeg",
            ),
        ),
    )

    v2_png = write_signed(
        folder / "matte.png",
        ca,
        created_manifest(
            "matte.png",
            "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
            {"name": "Runway Gen-3", "version": "3.0"},
            generator="Runway",
            label="c2pa.actions.v2",
        ),
        image_bytes("v2", "PNG"),
        "image/png",
    )

    human_jpeg = write_signed(
        folder / "paint.jpg",
        ca,
        created_manifest(
            "paint.jpg", IPTC + "digitalCreation", "Photoshop 25.0", generator="Photoshop"
        ),
        image_bytes("human"),
    )

    capture_jpeg = write_signed(
        folder / "plate.jpg",
        ca,
        created_manifest(
            "plate.jpg", IPTC + "digitalCapture", "Leica M11 firmware 2.0", generator="Leica"
        ),
        image_bytes("capture"),
    )

    adobe_manifest = created_manifest(
        "fill.jpg", IPTC + "digitalCreation", None, generator="Adobe Photoshop"
    )
    adobe_manifest["assertions"].append(
        {
            "label": "com.adobe.generative-ai",
            "data": {"description": "Generative Fill", "version": "1.0.0"},
        }
    )
    adobe_jpeg = write_signed(folder / "fill.jpg", ca, adobe_manifest, image_bytes("adobe"))

    plain_jpeg = folder / "plain.jpg"
    plain_jpeg.write_bytes(image_bytes("plain", size=(200, 150)))

    exr = folder / "plate.0001.exr"
    _write_exr(exr)
    _, store = sign(
        ca,
        created_manifest(
            "plate.0001.exr", IPTC + "trainedAlgorithmicMedia", "Gen Plate", generator="Gen"
        ),
        exr.read_bytes(),
        "image/x-exr",
        sidecar=True,
    )
    (folder / "plate.0001.c2pa").write_bytes(store)

    return C2paFiles(
        ca=ca,
        ai_jpeg=ai_jpeg,
        composite_jpeg=composite_jpeg,
        v2_png=v2_png,
        human_jpeg=human_jpeg,
        capture_jpeg=capture_jpeg,
        adobe_jpeg=adobe_jpeg,
        plain_jpeg=plain_jpeg,
        exr_with_sidecar=exr,
    )


def _write_exr(path: Path) -> None:
    try:
        write_exr(path, seed="c2pa")
    except ImportError:  # openexr is a test extra; the sidecar binds whatever bytes are there.
        path.write_bytes(b"\x76\x2f\x31\x01" + random.Random("exr").randbytes(4096))
