"""The generators' signatures: what AUTOMATIC1111, Forge, Fooocus, RuinedFooocus, ComfyUI,
InvokeAI, NovelAI, Midjourney, SwarmUI, diffusers pipelines (Hugging Face Spaces), PPDiffusers
(PaddleNLP), Draw Things, Easy Diffusion and Stability Matrix write into an image's metadata,
recognised in its text fields (named as the PNG keywords the generators use) and turned into
`Signal`s with origin trainedAlgorithmicMedia: one per generator whose metadata the fields
carry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from provenance.detect import Signal
from provenance.detect.metadata_limits import clip, excerpt
from provenance.origins import Evidence, Origin

__all__ = ["comfy_api_graph", "generated", "generator_signals", "json_object"]


_GENERATED = Origin.TRAINED_ALGORITHMIC_MEDIA


def generator_signals(fields: Mapping[str, str], carrier: str) -> list[Signal]:
    """Every generator whose metadata `fields` carries: one file may hold several (a ComfyUI
    graph beside A1111-style `parameters`, Stability Matrix's own chunk beside both)."""
    detectors: list[Callable[[Mapping[str, str], str], Signal | None]] = [
        _comfyui,
        _invokeai,
        _novelai,
        _midjourney,
        _swarmui,
        _ruinedfooocus,
        _diffusers,
        _drawthings,
        _easydiffusion,
        _stability_matrix,
        _a1111_family,
    ]
    return [signal for detect in detectors if (signal := detect(fields, carrier)) is not None]


def generated(
    source: str,
    tool: str,
    summary: str,
    detail: dict[str, Any],
    carrier: str,
    evidence: Evidence = Evidence.EMBEDDED,
) -> Signal:
    detail = {key: value for key, value in detail.items() if value not in (None, "", [])}
    detail["carrier"] = carrier
    return Signal(
        source=source,
        origin=_GENERATED,
        evidence=evidence,
        summary=summary,
        tool=tool,
        detail=detail,
    )


@dataclass(frozen=True)
class _Keys:
    """Where a generator's settings keep the model, sampler ...: the first key present wins."""

    model: tuple[str, ...] = ()
    model_hash: tuple[str, ...] = ()
    sampler: tuple[str, ...] = ()
    steps: tuple[str, ...] = ("steps",)
    seed: tuple[str, ...] = ("seed",)
    version: tuple[str, ...] = ()
    prompt: tuple[str, ...] = ("prompt",)


def _settings_signal(
    source: str,
    tool: str,
    what: str,
    settings: Mapping[str, Any],
    keys: _Keys,
    carrier: str,
    model: str | None = None,
) -> Signal:
    """A generator's signal from the settings it recorded (`model` when found otherwise)."""

    def first(names: tuple[str, ...]) -> Any:
        return next((settings[n] for n in names if settings.get(n) not in (None, "")), None)

    model = model or _clipped_scalar(first(keys.model))
    detail = {
        "model": model,
        "model_hash": _clipped_scalar(first(keys.model_hash)),
        "sampler": _clipped_scalar(first(keys.sampler)),
        "steps": _number(first(keys.steps)),
        "seed": _number(first(keys.seed)),
        "version": _clipped_scalar(first(keys.version)),
        "prompt": excerpt(first(keys.prompt)),
    }
    summary = f"{tool} {what}" + (f" (model {model})" if model else "")
    return generated(source, tool, summary, detail, carrier)


# AUTOMATIC1111 and its forks -------------------------------------------------------------

_FORGE_VERSION = re.compile(r"f\d+\.\d")
_A1111_LINE_CHARS = 64 << 10


def _a1111_family(fields: Mapping[str, str], carrier: str) -> Signal | None:
    text = fields.get("parameters")
    if not text:
        return None
    scheme = fields.get("fooocus_scheme")
    software = fields.get("Software", "")
    as_json = json_object(text)
    if as_json is not None:
        if _RUINED_FOOOCUS in str(as_json.get("software", "")):
            return None  # a fork with its own reader, `_ruinedfooocus`
        version = _clipped_scalar(as_json.get("version")) or ""
        if scheme or version.startswith("Fooocus") or software.startswith("Fooocus"):
            return _fooocus_json(as_json, carrier)
        return None
    parsed = _parse_a1111(text)
    if parsed is None:
        return None
    prompt, params = parsed
    version = params.get("Version", "")
    if scheme or version.startswith("Fooocus") or software.startswith("Fooocus"):
        source, tool = "fooocus", "Fooocus"
    elif _FORGE_VERSION.match(version):
        source, tool = "forge", "Forge"
    else:
        source, tool = "a1111", "AUTOMATIC1111"
    settings = {**params, "Raw prompt": params.get("Raw prompt") or prompt}
    return _settings_signal(source, tool, "generation parameters", settings, _A1111_KEYS, carrier)


_A1111_KEYS = _Keys(
    model=("Model",),
    model_hash=("Model hash",),
    sampler=("Sampler",),
    steps=("Steps",),
    seed=("Seed",),
    version=("Version",),
    prompt=("Raw prompt",),
)


def _fooocus_json(metadata: dict[str, Any], carrier: str) -> Signal:
    return _settings_signal(
        "fooocus", "Fooocus", "generation parameters", metadata, _FOOOCUS_KEYS, carrier
    )


_FOOOCUS_KEYS = _Keys(
    model=("base_model",),
    model_hash=("base_model_hash",),
    sampler=("sampler",),
    version=("version",),
)


def _parse_a1111(text: str) -> tuple[str, dict[str, str]] | None:
    """The prompt and the `Key: value` settings of A1111 `parameters`, or None if not that format.

    The settings are the last line that starts with "Steps:"; the prompt is everything before
    it up to "Negative prompt:".
    """
    lines = text.strip().splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].lstrip().startswith("Steps:"):
            break
    else:
        return None
    params = _a1111_settings(lines[index][:_A1111_LINE_CHARS])
    # Every A1111-family writer records the sampler and seed next to the step count.
    if not params.get("Steps", "").isdigit() or not {"Sampler", "Seed"} & params.keys():
        return None
    prompt: list[str] = []
    for line in lines[:index]:
        if line.startswith("Negative prompt:"):
            break
        prompt.append(line)
    return "\n".join(prompt).strip(), params


_QUOTED = re.compile(r'"(?:\\.|[^\\"])*"')


def _a1111_settings(line: str) -> dict[str, str]:
    """`Steps: 20, Sampler: Euler a, Lora hashes: "a: 1, b: 2"` as a dict, in linear time."""
    params: dict[str, str] = {}
    position = 0
    while position < len(line):
        colon = line.find(":", position)
        if colon < 0:
            break
        key = line[position:colon].strip()
        position = colon + 1
        while line.startswith(" ", position):
            position += 1
        quoted = _QUOTED.match(line, position)
        if quoted:
            try:
                value = json.loads(quoted[0])
            except ValueError:
                value = quoted[0][1:-1]
            comma = line.find(",", quoted.end())
        else:
            comma = line.find(",", position)
            value = line[position : comma if comma >= 0 else len(line)].strip()
        position = len(line) if comma < 0 else comma + 1
        if key:
            params.setdefault(key, str(value))
    return params


# ComfyUI -----------------------------------------------------------------------------------

_SAMPLER_INPUTS: dict[str, tuple[str, ...]] = {
    "sampler": ("sampler_name",),
    "steps": ("steps",),
    "seed": ("seed", "noise_seed"),
}
_MODEL_INPUTS = ("ckpt_name", "unet_name")


def _comfyui(fields: Mapping[str, str], carrier: str) -> Signal | None:
    graph = comfy_api_graph(fields.get("prompt"))
    workflow = _comfy_workflow(fields.get("workflow"))
    if graph is None and workflow is None:
        return None
    checkpoints: list[str] = []
    detail: dict[str, Any] = {"graphs": []}
    if graph is not None:
        detail["graphs"].append("prompt")
        detail["node_count"] = len(graph)
        for node in graph.values():
            inputs = node["inputs"]
            checkpoints += [inputs[k] for k in _MODEL_INPUTS if isinstance(inputs.get(k), str)]
        detail.update(_comfy_sampling(graph))
    if workflow is not None:
        detail["graphs"].append("workflow")
        detail.setdefault("node_count", len(workflow))
        for node in workflow:
            kind = node["type"]
            values = node.get("widgets_values")
            if ("CheckpointLoader" in kind or kind == "UNETLoader") and isinstance(values, list):
                checkpoints += [v for v in values[:1] if isinstance(v, str)]
    detail["checkpoints"] = [clip(name) for name in dict.fromkeys(checkpoints)][:10]
    if _parse_a1111(fields.get("parameters", "")) is not None:
        detail["a1111_parameters"] = True
    using = f" (checkpoint {', '.join(detail['checkpoints'])})" if detail["checkpoints"] else ""
    if graph is None:
        # A node graph without the prompt it ran: an image ComfyUI generated whose prompt was
        # stripped, or a screenshot of the node editor exported with its workflow.
        return generated(
            "comfyui-workflow",
            "ComfyUI",
            f"ComfyUI workflow, {detail['node_count']} nodes{using}, without the prompt graph "
            "a generated image carries: a generated image or a screenshot of the node editor; "
            "a TD settles which",
            detail,
            carrier,
            Evidence.INFERRED,
        )
    return generated(
        "comfyui", "ComfyUI", f"ComfyUI graph, {detail['node_count']} nodes{using}", detail, carrier
    )


def comfy_api_graph(text: str | None) -> dict[str, dict[str, Any]] | None:
    """The API graph (`{"3": {"class_type": "KSampler", "inputs": {...}}, ...}`), or None."""
    graph = json_object(text)
    if not graph:
        return None
    for node in graph.values():
        if not (
            isinstance(node, dict)
            and isinstance(node.get("class_type"), str)
            and isinstance(node.get("inputs"), dict)
        ):
            return None
    return graph


def _comfy_workflow(text: str | None) -> list[dict[str, Any]] | None:
    """The nodes of a UI workflow (`{"nodes": [{"id": 4, "type": ...}], "links": ...}`), or None."""
    workflow = json_object(text)
    nodes = workflow.get("nodes") if workflow else None
    if not isinstance(nodes, list) or not nodes:
        return None
    for node in nodes:
        if not (isinstance(node, dict) and "id" in node and isinstance(node.get("type"), str)):
            return None
    return nodes


def _comfy_sampling(graph: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sampler, steps, seed and positive prompt of the first sampler node with literal inputs."""
    for node in graph.values():
        inputs = node["inputs"]
        if "steps" not in inputs or "positive" not in inputs:
            continue
        found: dict[str, Any] = {}
        for name, keys in _SAMPLER_INPUTS.items():
            for key in keys:
                value = inputs.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    found[name] = clip(value) if isinstance(value, str) else value
                    break
        link = inputs.get("positive")
        if isinstance(link, list) and link:
            source = graph.get(str(link[0]))
            text = source["inputs"].get("text") if source else None
            found["prompt"] = excerpt(text)
        return found
    return {}


# InvokeAI, NovelAI, Midjourney -----------------------------------------------------------

_DREAM_OPTION = re.compile(r"\s-(?:S|s)\s?\d+")
_DREAM_SEED = re.compile(r"\s-S\s?(\d+)")


def _invokeai(fields: Mapping[str, str], carrier: str) -> Signal | None:
    metadata = json_object(fields.get("invokeai_metadata"))
    graph = json_object(fields.get("invokeai_graph"))
    nodes = graph.get("nodes") if graph else None
    legacy = json_object(fields.get("sd-metadata"))
    if legacy is not None and not (
        isinstance(legacy.get("image"), dict) or "invoke" in str(legacy.get("app_id", ""))
    ):
        legacy = None
    dream = fields.get("Dream", "")
    if not _DREAM_OPTION.search(dream):
        dream = ""
    if metadata is None and not isinstance(nodes, (dict, list)) and legacy is None and not dream:
        return None
    detail: dict[str, Any] = {}
    if metadata is not None:
        _merge(detail, _invokeai_metadata(metadata))
    if isinstance(nodes, (dict, list)):
        detail["node_count"] = len(nodes)
    if legacy is not None:
        _merge(detail, _invokeai_legacy(legacy))
    if dream:
        seed = _DREAM_SEED.search(dream)
        prompt = dream.split('"')[1] if dream.lstrip().startswith('"') else dream
        _merge(detail, {"seed": int(seed[1]) if seed else None, "prompt": excerpt(prompt)})
    model = detail.get("model")
    summary = "InvokeAI generation metadata" + (f" (model {model})" if model else "")
    return generated("invokeai", "InvokeAI", summary, detail, carrier)


def _invokeai_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """InvokeAI 3 and later: `invokeai_metadata`."""
    model = metadata.get("model")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model_name")
    return {
        "model": _clipped_scalar(model),
        "sampler": _clipped_scalar(metadata.get("scheduler")),
        "steps": _number(metadata.get("steps")),
        "seed": _number(metadata.get("seed")),
        "version": _clipped_scalar(metadata.get("app_version")),
        "generation_mode": _clipped_scalar(metadata.get("generation_mode")),
        "prompt": excerpt(metadata.get("positive_prompt")),
    }


def _invokeai_legacy(legacy: dict[str, Any]) -> dict[str, Any]:
    """InvokeAI 2: `sd-metadata`."""
    image = legacy.get("image")
    image = image if isinstance(image, dict) else {}
    prompt = image.get("prompt")
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict):
        prompt = prompt[0].get("prompt")
    return {
        "model": _clipped_scalar(legacy.get("model_weights")),
        "model_hash": _clipped_scalar(legacy.get("model_hash")),
        "sampler": _clipped_scalar(image.get("sampler")),
        "steps": _number(image.get("steps")),
        "seed": _number(image.get("seed")),
        "version": _clipped_scalar(legacy.get("app_version")),
        "prompt": excerpt(prompt),
    }


def _merge(detail: dict[str, Any], more: Mapping[str, Any]) -> None:
    """Fill the keys `detail` has no value for."""
    for key, value in more.items():
        if detail.get(key) is None:
            detail[key] = value


def _novelai(fields: Mapping[str, str], carrier: str) -> Signal | None:
    # "NovelAI" in PNGs; "NovelAI Diffusion V4.5 ..." in the EXIF Software tag of its WebPs.
    software = fields.get("Software", "").strip()
    if not software.lower().startswith("novelai"):
        return None
    comment = json_object(fields.get("Comment")) or json_object(fields.get("parameters")) or {}
    model = clip(fields.get("Source")) or (clip(software) if software != "NovelAI" else None)
    caption = comment.get("v4_prompt")
    caption = caption.get("caption") if isinstance(caption, dict) else None
    base = caption.get("base_caption") if isinstance(caption, dict) else None
    detail = {
        "model": model,
        "sampler": _clipped_scalar(comment.get("sampler")),
        "steps": _number(comment.get("steps")),
        "seed": _number(comment.get("seed")),
        "generation_time": clip(fields.get("Generation time")),
        "prompt": excerpt(comment.get("prompt") or base or fields.get("Description")),
    }
    summary = "NovelAI image" + (f" ({model})" if model else "")
    return generated("novelai", "NovelAI", summary, detail, carrier)


# A render farm's "Job ID: 4711" is not Midjourney's: Midjourney's job IDs are UUIDs.
_MIDJOURNEY_JOB = re.compile(
    r"Job ID:\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", re.IGNORECASE
)


def _midjourney(fields: Mapping[str, str], carrier: str) -> Signal | None:
    description = fields.get("Description", "")
    job = _MIDJOURNEY_JOB.search(description)
    if job is None:
        return None
    detail = {
        "job_id": job[1].lower(),
        "author": clip(fields.get("Author")),
        "prompt": excerpt(description[: job.start()]),
    }
    return generated("midjourney", "Midjourney", f"Midjourney job {job[1]}", detail, carrier)


# SwarmUI, RuinedFooocus, diffusers and PPDiffusers, Draw Things, Easy Diffusion, Stability Matrix


def _swarmui(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """`parameters` (PNG) or EXIF UserComment (JPEG, WebP): {"sui_image_params": {...}}."""
    params = json_object(fields.get("parameters"))
    image = params.get("sui_image_params") if params else None
    if not isinstance(image, dict):
        return None
    keys = _Keys(model=("model",), sampler=("sampler",), version=("swarm_version",))
    return _settings_signal("swarmui", "SwarmUI", "generation parameters", image, keys, carrier)


_RUINED_FOOOCUS = "RuinedFooocus"


def _ruinedfooocus(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """`parameters` JSON with `"software": "RuinedFooocus"`."""
    params = json_object(fields.get("parameters"))
    if not params or _RUINED_FOOOCUS not in str(params.get("software", "")):
        return None
    keys = _Keys(
        model=("base_model_name",),
        model_hash=("base_model_hash",),
        sampler=("sampler_name",),
        prompt=("Prompt",),
    )
    return _settings_signal(
        "ruinedfooocus", _RUINED_FOOOCUS, "generation parameters", params, keys, carrier
    )


_DIFFUSERS_SETTINGS = ("num_inference_steps", "guidance_scale")
_PADDLE_KEYWORDS = ("pipe", "scheduler_type", "type_to_img")
_EASY_DIFFUSION_MODEL = ("use_stable_diffusion_model", "Stable Diffusion model")


def _diffusers(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """Pipelines built on diffusers: a Hugging Face Space's `parameters` JSON (prompt,
    resolution, guidance_scale, num_inference_steps, Model ...), or one text chunk per call
    argument, as scripts and PaddleNLP's PPDiffusers web UI save them (prompt, negative_prompt,
    num_inference_steps, guidance_scale, seed; PPDiffusers adds pipe and scheduler_type)."""
    params = json_object(fields.get("parameters"))
    if (
        params is not None
        and isinstance(params.get("prompt"), str)
        and ({*_DIFFUSERS_SETTINGS, "resolution"} & params.keys())
        and not {"software", "sui_image_params", *_EASY_DIFFUSION_MODEL} & params.keys()
    ):
        keys = _Keys(
            model=("Model",),
            model_hash=("Model hash",),
            sampler=("sampler",),
            steps=("num_inference_steps",),
        )
        what = "pipeline parameters (Hugging Face Space)"
        return _settings_signal("diffusers", "diffusers", what, params, keys, carrier)
    prompt = fields.get("prompt", "")
    if (
        not prompt.strip()
        or prompt.lstrip().startswith("{")
        or not any(fields.get(key, "").strip() for key in _DIFFUSERS_SETTINGS)
        or any(key in fields for key in _EASY_DIFFUSION_MODEL)
    ):
        return None
    paddle = any(key in fields for key in _PADDLE_KEYWORDS)
    keys = _Keys(
        model=("pipe", "model"),
        sampler=("scheduler_type", "scheduler"),
        steps=("num_inference_steps",),
    )
    tool = "PPDiffusers" if paddle else "diffusers"
    source = "ppdiffusers" if paddle else "diffusers"
    return _settings_signal(source, tool, "pipeline arguments", fields, keys, carrier)


def _drawthings(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """XMP with `xmp:CreatorTool` "Draw Things" and its settings as JSON in `exif:UserComment`
    (`c` is the prompt)."""
    settings = json_object(fields.get("UserComment")) or json_object(fields.get("parameters"))
    named = fields.get("CreatorTool", fields.get("Software", "")).startswith("Draw Things")
    own_json = settings is not None and "c" in settings and {"sampler", "seed"} <= settings.keys()
    if not (named or own_json):
        return None
    keys = _Keys(model=("model",), sampler=("sampler",), prompt=("c",))
    return _settings_signal(
        "drawthings", "Draw Things", "generation settings", settings or {}, keys, carrier
    )


def _easydiffusion(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """One text chunk per setting (PNG), or JSON in EXIF UserComment (JPEG, WebP), naming the
    model as `use_stable_diffusion_model` (or `Stable Diffusion model`)."""
    settings: Mapping[str, Any] = fields
    if not any(key in fields for key in _EASY_DIFFUSION_MODEL):
        params = json_object(fields.get("parameters"))
        if params is None or not any(key in params for key in _EASY_DIFFUSION_MODEL):
            return None
        settings = params
    path = _clipped_scalar(
        next((settings[k] for k in _EASY_DIFFUSION_MODEL if settings.get(k)), None)
    )
    model = path.replace("\\", "/").rsplit("/", 1)[-1] if path else None
    keys = _Keys(
        sampler=("sampler_name", "Sampler"),
        steps=("num_inference_steps", "Steps"),
        seed=("seed", "Seed"),
        prompt=("prompt", "Prompt"),
    )
    return _settings_signal(
        "easydiffusion", "Easy Diffusion", "generation settings", settings, keys, carrier, model
    )


def _stability_matrix(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """Its own `parameters-json` chunk (and `smproj`, the project), beside the A1111-style
    `parameters` and ComfyUI `prompt` it also writes."""
    params = json_object(fields.get("parameters-json"))
    if params is None and "smproj" not in fields:
        return None
    keys = _Keys(
        model=("ModelName",),
        model_hash=("ModelHash",),
        sampler=("Sampler",),
        steps=("Steps",),
        seed=("Seed",),
        prompt=("PositivePrompt",),
    )
    return _settings_signal(
        "stability-matrix", "Stability Matrix", "generation parameters", params or {}, keys, carrier
    )


# --- small helpers ------------------------------------------------------------------------


def json_object(text: str | None) -> dict[str, Any] | None:
    if not text or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _clipped_scalar(value: object) -> str | None:
    """A setting written as text or a number, as text clipped to an excerpt; None otherwise."""
    return clip(value) if isinstance(value, (str, int, float)) else None


def _number(value: object) -> int | str | None:
    """An integer setting (steps, seed) as int; anything else clipped to text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = clip(value)
    if text is not None and text.isdigit() and len(text) < 40:
        return int(text)
    return text
