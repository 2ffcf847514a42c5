"""Real signed C2PA files for the tests: a throwaway CA made here, Pillow images signed offline with `c2pa.Builder`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
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
    path.parent.mkdir(parents=True, exist_ok=True)
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


def write_composite(
    path: Path,
    ca: ThrowawayCA,
    agent: dict[str, str],
    background: tuple[str, bytes, str],
    element: tuple[str, bytes, str],
) -> Path:
    """A composite as a DCC signs it: the background opened (`parentOf`), an element placed
    (`componentOf`), each (title, bytes, MIME type); its own actions carry no source type."""
    manifest = {
        "claim_generator_info": [agent],
        "title": path.name,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.opened",
                            "softwareAgent": agent,
                            "parameters": {"ingredientIds": ["background"]},
                        },
                        {
                            "action": "c2pa.placed",
                            "softwareAgent": agent,
                            "parameters": {"ingredientIds": ["element"]},
                        },
                    ]
                },
            }
        ],
    }
    ingredients = tuple(
        ({"title": title, "relationship": relationship, "label": label}, data, mime)
        for (title, data, mime), relationship, label in (
            (background, "parentOf", "background"),
            (element, "componentOf", "element"),
        )
    )
    return write_signed(path, ca, manifest, image_bytes(path.name), ingredients=ingredients)


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

    composite_jpeg = write_composite(
        folder / "comp.jpg",
        ca,
        {"name": "Nuke", "version": "15.1"},
        ("plate_v001.jpg", image_bytes("plate"), "image/jpeg"),
        ("sky_gen.jpg", ai_jpeg.read_bytes(), "image/jpeg"),
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


# --- C2PA as Adobe writes it ---------------------------------------------------------------


@dataclass(frozen=True)
class AdobeFiles:
    """Where Adobe's tools put the digital source type, one signed file for each place."""

    firefly_png: Path
    """Firefly: `c2pa.created` with the type only in `parameters` under `com.adobe.digitalSourceType`."""
    fill_jpeg: Path
    """Photoshop Generative Fill: `c2pa.edited` with the type in its parameters."""
    composite_jpeg: Path
    """Photoshop: the Firefly PNG placed as an ingredient; the composite's own actions say nothing."""
    field_and_parameters_jpeg: Path
    """A vendor's variant: digitalCapture in the field, trainedAlgorithmicMedia in the parameters."""


ADOBE_SOURCE_TYPE = "com.adobe.digitalSourceType"


def write_adobe_files(folder: Path, ca: ThrowawayCA) -> AdobeFiles:
    folder.mkdir(parents=True, exist_ok=True)
    firefly_manifest = {
        "claim_generator_info": [{"name": "Adobe Firefly", "version": "3.0"}],
        "title": "firefly.png",
        # Firefly's files predate the 2.x rule that `c2pa.created` carries the field.
        "claim_version": 1,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "softwareAgent": "Adobe Firefly",
                            "parameters": {ADOBE_SOURCE_TYPE: IPTC + "trainedAlgorithmicMedia"},
                        }
                    ]
                },
            }
        ],
    }
    firefly_png = write_signed(
        folder / "firefly.png", ca, firefly_manifest, image_bytes("firefly", "PNG"), "image/png"
    )
    photoshop = {"name": "Adobe Photoshop", "version": "26.0"}
    fill_manifest = {
        "claim_generator_info": [photoshop],
        "title": "fill.jpg",
        "claim_version": 1,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.edited",
                            "softwareAgent": photoshop,
                            "parameters": {
                                ADOBE_SOURCE_TYPE: IPTC + "compositeWithTrainedAlgorithmicMedia",
                                "description": "Generative Fill",
                            },
                        }
                    ]
                },
            }
        ],
    }
    fill_jpeg = write_signed(folder / "fill.jpg", ca, fill_manifest, image_bytes("fill"))
    composite_jpeg = write_composite(
        folder / "poster.jpg",
        ca,
        photoshop,
        ("layout.jpg", image_bytes("layout"), "image/jpeg"),
        ("firefly.png", firefly_png.read_bytes(), "image/png"),
    )
    both = created_manifest("both.jpg", IPTC + "digitalCapture", "Camera", generator="Camera")
    both["assertions"][0]["data"]["actions"][0]["parameters"] = {
        ADOBE_SOURCE_TYPE: IPTC + "trainedAlgorithmicMedia"
    }
    field_and_parameters_jpeg = write_signed(folder / "both.jpg", ca, both, image_bytes("both"))
    return AdobeFiles(firefly_png, fill_jpeg, composite_jpeg, field_and_parameters_jpeg)


# --- credentials that cannot be read ------------------------------------------------------


REMOTE_MANIFEST_URL = "https://manifests.cawg-test.example/sky_gen.c2pa"


def write_remote_manifest(path: Path, ca: ThrowawayCA, url: str = REMOTE_MANIFEST_URL) -> Path:
    """A JPEG whose only manifest is remote: its XMP `dcterms:provenance` names the URL."""
    context = c2pa.Context.from_dict(_BUILDER_SETTINGS)
    try:
        manifest = created_manifest(path.name, IPTC + "trainedAlgorithmicMedia", "Gen")
        with c2pa.Builder(manifest, context=context) as builder:
            builder.set_no_embed()
            builder.set_remote_url(url)
            signed = io.BytesIO()
            with ca.signer() as signer:
                builder.sign(signer, "image/jpeg", io.BytesIO(image_bytes(path.name)), signed)
    finally:
        context.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signed.getvalue())
    return path


def write_unsupported_algorithm(path: Path, ca: ThrowawayCA) -> Path:
    """A signed AI JPEG whose COSE header names an algorithm the reader does not support (-9)."""

    def unknown_algorithm(data: bytearray) -> None:
        cose = data.index(b"\xd2\x84", data.index(b"c2pa.signature"))
        alg = data.index(b"\x01\x26", cose)  # {1: -7}: ES256 in the protected header
        data[alg + 1] = 0x28  # -9

    return _signed_then_changed(path, ca, "trainedAlgorithmicMedia", unknown_algorithm)


def write_invalid_algorithmic_media(path: Path, ca: ThrowawayCA) -> Path:
    """An algorithmicMedia JPEG whose pixels changed after signing: Invalid."""

    def flip_a_pixel_byte(data: bytearray) -> None:
        data[-200] ^= 0xFF

    return _signed_then_changed(path, ca, "algorithmicMedia", flip_a_pixel_byte)


def _signed_then_changed(
    path: Path, ca: ThrowawayCA, source_type: str, change: Callable[[bytearray], None]
) -> Path:
    """A JPEG signed as `source_type` by "Gen", whose bytes `change` alters after signing."""
    manifest = created_manifest(path.name, IPTC + source_type, "Gen")
    signed, _ = sign(ca, manifest, image_bytes(path.name), "image/jpeg")
    data = bytearray(signed)
    change(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def write_prerelease(path: Path, ca: ThrowawayCA) -> Path:
    """A signed AI JPEG (claim v1) whose claim hashes its actions the pre-1.0 way."""
    manifest = created_manifest(path.name, IPTC + "trainedAlgorithmicMedia", "Gen")
    manifest["claim_version"] = 1
    signed, store = sign(ca, manifest, image_bytes(path.name), "image/jpeg")
    actions = _jumbf_box(store, b"c2pa.actions")
    (content,) = [box for kind, box in _jumbf_boxes(actions[8:]) if kind == b"cbor"]
    # The claim hashes an assertion's superbox contents; before 1.0 it hashed its data only.
    current = hashlib.sha256(actions[8:]).digest()
    old_style = hashlib.sha256(content[8:]).digest()
    assert signed.count(current) == 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signed.replace(current, old_style))
    return path


def _jumbf_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole box) of the boxes laid one after another in `data`."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        if size < 8:
            break
        boxes.append((data[offset + 4 : offset + 8], data[offset : offset + size]))
        offset += size
    return boxes


def _jumbf_box(data: bytes, label_prefix: bytes) -> bytes:
    """The first JUMBF superbox whose description label starts with `label_prefix`."""
    for kind, box in _jumbf_boxes(data):
        if kind != b"jumb":
            continue
        children = _jumbf_boxes(box[8:])
        # A description box: a 16-byte type UUID, a toggles byte, then the label.
        if children and children[0][0] == b"jumd":
            label = children[0][1][8 + 17 :].split(b"\x00", 1)[0]
            if label.startswith(label_prefix):
                return box
        try:
            return _jumbf_box(box[8:], label_prefix)
        except LookupError:
            continue
    raise LookupError(label_prefix)


# --- a CAWG identity assertion whose issuer the SDK would resolve ------------------------------


def write_cawg_identity(path: Path, ca: ThrowawayCA, did_host: str) -> Path:
    """A signed AI JPEG with a CAWG identity assertion (identity claims aggregation) whose
    credential's issuer is `did:web:<did_host>`: a reader that decodes identity assertions
    resolves that host to fetch the issuer's DID document."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    referenced = [{"url": "self#jumbf=c2pa.assertions/c2pa.hash.data", "alg": "sha256"}]
    credential = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://cawg.io/identity/1.1/ica/context/",
        ],
        "type": ["VerifiableCredential", "IdentityClaimsAggregationCredential"],
        "issuer": f"did:web:{did_host}",
        "validFrom": (now - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "credentialSubject": {
            "verifiedIdentities": [
                {
                    "type": "cawg.social_media",
                    "username": "matte_artist",
                    "uri": "https://social.cawg-test.example/matte_artist",
                    "verifiedAt": now.isoformat().replace("+00:00", "Z"),
                    "provider": {"id": "https://social.cawg-test.example", "name": "Social"},
                }
            ],
            "c2paAsset": {
                "referenced_assertions": [
                    {**r, "hash": base64.b64encode(bytes(32)).decode()} for r in referenced
                ],
                "sig_type": "cawg.identity_claims_aggregation",
            },
        },
    }
    payload = json.dumps(credential).encode()
    protected = _cbor({1: -8, 3: "application/vc"})  # EdDSA, content type
    key = ed25519.Ed25519PrivateKey.generate()
    signature = key.sign(_cbor(["Signature1", protected, b"", payload]))
    cose_sign1 = b"\xd2" + _cbor([protected, {}, payload, signature])  # tag 18
    manifest = created_manifest(path.name, IPTC + "trainedAlgorithmicMedia", "Gen")
    manifest["assertions"].append(
        {
            "label": "cawg.identity",
            "data": {
                "signer_payload": {
                    "referenced_assertions": [{**r, "hash": [0] * 32} for r in referenced],
                    "sig_type": "cawg.identity_claims_aggregation",
                },
                "signature": list(cose_sign1),
                "pad1": [0] * 16,
            },
        }
    )
    return write_signed(path, ca, manifest, image_bytes(path.name))


def _cbor(value: Any) -> bytes:
    """Just enough CBOR for a COSE_Sign1 (RFC 8949): ints, strings, bytes, arrays, maps."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for extra, code in ((1, 24), (2, 25), (4, 26), (8, 27)):
            if length < 1 << (8 * extra):
                return bytes([major << 5 | code]) + length.to_bytes(extra, "big")
        raise ValueError(length)

    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(_cbor(item) for item in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())
    raise TypeError(type(value))
