"""The docs stay true: docs/cli.md is current, every command has help, the README and docs name
only commands that exist and link only to files that exist, and the publish-hook example runs
against a real ledger (SQLite and PostgreSQL) and is shown as it is, the auditor's export check
runs against a real deliverable, and the admin page's roles table is what `db roles` grants."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest
from provenance.cli import cli

from provenance import Ledger, Origin, ProvenanceError, schemas
from provenance.errors import UnknownTool
from provenance.keys import default_key_path
from provenance.policy import RULES
from provenance.store import roles
from provenance.store.rows import INLINE_ROWS

from ..builders import write_image, write_notes, write_sequence

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs"
GLOBAL_OPTIONS_WITH_VALUE = {"--db"}
SEPARATORS = {"&&", "||", ";", "|"}


def load(path: Path) -> ModuleType:
    """Import a file from docs/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"_docs_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def all_commands() -> Iterator[tuple[str, click.Command]]:
    gen_cli = load(DOCS / "gen_cli.py")
    for command, ctx in gen_cli.walk(cli, "provenance"):
        yield ctx.command_path, command


# -- the CLI reference -------------------------------------------------------------------------


def test_cli_reference_is_current() -> None:
    gen_cli = load(DOCS / "gen_cli.py")
    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == gen_cli.render(), (
        "docs/cli.md is out of date with the commands' --help: "
        "run `.venv/bin/python docs/gen_cli.py` and commit the result."
    )


def test_cli_reference_is_the_same_at_any_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    gen_cli = load(DOCS / "gen_cli.py")
    monkeypatch.setenv("COLUMNS", "40")
    narrow = gen_cli.render()
    monkeypatch.setenv("COLUMNS", "250")
    assert gen_cli.render() == narrow


def test_every_command_has_help() -> None:
    missing = [path for path, command in all_commands() if not (command.help or "").strip()]
    assert not missing, f"Commands without a docstring: {missing}. Write one: it is their --help."


def test_every_option_has_help() -> None:
    missing = [
        f"{path} {param.opts[0]}"
        for path, command in all_commands()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing, f"Options without help: {missing}"


# -- commands named in the prose ---------------------------------------------------------------


def shell_snippets(markdown: str) -> Iterator[str]:
    """Inline code and shell code blocks (not Python blocks, whose `provenance` is a module)."""
    for block in re.finditer(r"^```(\w*)\n(.*?)^```", markdown, flags=re.M | re.S):
        if block.group(1) in ("", "sh", "bash", "shell", "console"):
            # (A line ending in a backslash goes on on the next, as in a shell.)
            yield from re.sub(r"\\\n\s*", " ", block.group(2)).splitlines()
    without_blocks = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    yield from re.findall(r"`([^`\n]+)`", without_blocks)


def mentioned_commands(markdown: str) -> Iterator[list[str]]:
    """The words after `provenance` where it starts a shell command: ["tools", "add"], ["show"]..."""
    for words in mentioned_command_lines(markdown):
        yield words[:2]


def mentioned_command_lines(markdown: str) -> Iterator[list[str]]:
    """Each shell command that runs `provenance`, as the words after it (global options
    dropped) up to the end of the command."""
    for snippet in shell_snippets(markdown):
        try:
            words = shlex.split(snippet, comments=True)
        except ValueError:
            words = snippet.split()
        # Each command of the line starts at its beginning (after any `$` prompt) or after
        # `&&`, `||`, `;` or `|`.
        starts = [0] + [i + 1 for i, word in enumerate(words) if word in SEPARATORS]
        for start in starts:
            rest = words[start:]
            while rest and (rest[0] == "$" or re.fullmatch(r"[A-Z_]+=\S*", rest[0])):
                rest.pop(0)
            if not rest or (rest[0] != "provenance" and not rest[0].endswith("/provenance")):
                continue
            rest.pop(0)
            while rest and rest[0].startswith("-"):
                option = rest.pop(0)
                if option in GLOBAL_OPTIONS_WITH_VALUE and rest:
                    rest.pop(0)
            if rest and re.fullmatch(r"[a-z][a-z-]*", rest[0]):
                ends = [i for i, word in enumerate(rest) if word in SEPARATORS]
                yield rest[: ends[0]] if ends else rest


def unknown_commands(markdown: str) -> tuple[list[str], int]:
    unknown: list[str] = []
    count = 0
    for words in mentioned_commands(markdown):
        count += 1
        command = cli.get_command(click.Context(cli), words[0])
        if command is None:
            unknown.append(words[0])
        elif (
            isinstance(command, click.Group)
            and len(words) > 1
            and command.get_command(click.Context(command), words[1]) is None
        ):
            unknown.append(" ".join(words))
    return unknown, count


def unknown_options(markdown: str) -> list[str]:
    """`command --option` for each option a page gives a command that the command lacks."""
    unknown = []
    for words in mentioned_command_lines(markdown):
        command: click.Command | None = cli.get_command(click.Context(cli), words[0])
        name = words[0]
        if isinstance(command, click.Group) and len(words) > 1:
            command = command.get_command(click.Context(command), words[1])
            name = " ".join(words[:2])
        if command is None:
            continue  # (unknown_commands reports it)
        known = {o for p in command.params for o in [*p.opts, *p.secondary_opts]} | {"--help"}
        for word in words[1:]:
            option = word.split("=", 1)[0]
            if re.fullmatch(r"--[a-z][a-z0-9-]*", option) and option not in known:
                unknown.append(f"{name} {option}")
    return unknown


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_docs_give_commands_only_options_they_take(page: str) -> None:
    path = ROOT / page if page == "README.md" else DOCS / page
    assert unknown_options(path.read_text(encoding="utf-8")) == []


def test_the_option_check_sees_an_option_a_command_lacks() -> None:
    page = "```sh\nprovenance sweep delivery --json \\\n    --no-such-thing\n```\n"
    assert unknown_options(page) == ["sweep --no-such-thing"]
    assert unknown_options("`provenance tools add X --vendor V --generative`") == []


def test_readme_names_only_existing_commands() -> None:
    unknown, count = unknown_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert count >= 10, "the README should show the daily commands"
    assert not unknown, f"README.md mentions commands that do not exist: {unknown}"


@pytest.mark.parametrize(
    "page",
    [
        "index.md",
        "concepts.md",
        "delivery.md",
        "integrations.md",
        "python-api.md",
        "studio-admin.md",
        "auditor.md",
    ],
)
def test_docs_name_only_existing_commands(page: str) -> None:
    unknown, _count = unknown_commands((DOCS / page).read_text(encoding="utf-8"))
    assert not unknown, f"docs/{page} mentions commands that do not exist: {unknown}"


def test_links_between_pages_point_at_files_that_exist() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert not broken, f"Links to files that do not exist: {broken}"


def test_the_command_finder_sees_commands_and_skips_python() -> None:
    text = (
        "Run `provenance --db x.db tools add Foo` or `provenance nope`, "
        "`from provenance import Ledger`, the provenance of a file.\n"
        "```python\nimport provenance\n```\n"
        "```sh\n$ .venv/bin/provenance show a.exr  # provenance bogus\n"
        "cd show && PROVENANCE_DB=x provenance db upgrade\n```\n"
    )
    assert sorted(mentioned_commands(text)) == [
        ["db", "upgrade"],
        ["nope"],
        ["show", "a.exr"],
        ["tools", "add"],
    ]
    assert unknown_commands(text)[0] == ["nope"]


# -- the delivery page ------------------------------------------------------------------------


def rule_sections() -> dict[str, str]:
    """docs/delivery.md's sections headed ### `rule-id`, each up to the next heading."""
    page = (DOCS / "delivery.md").read_text(encoding="utf-8")
    parts = re.split(r"^(#{2,3} .*)$", page, flags=re.M)
    sections: dict[str, str] = {}
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        match = re.fullmatch(r"### `([a-z-]+)`", heading.strip())
        if match is not None:
            sections[match.group(1)] = body
    return sections


def test_delivery_page_has_one_section_per_rule() -> None:
    sections = rule_sections()
    assert sorted(sections) == sorted(RULES), (
        "docs/delivery.md needs one section headed ### `rule-id` for each rule of "
        "`provenance policy show`, and no other: "
        f"missing {sorted(set(RULES) - set(sections))}, unknown {sorted(set(sections) - set(RULES))}"
    )


@pytest.mark.parametrize("rule", sorted(RULES))
def test_delivery_page_shows_each_rule_as_the_cli_prints_it(rule: str) -> None:
    section = rule_sections().get(rule, "")
    assert re.search(rf"^(BLOCK|WARN ) {re.escape(rule)}: \S", section, flags=re.M), (
        f"The {rule} section of docs/delivery.md should show a finding as `provenance sweep` "
        f"prints it (a line starting `BLOCK {rule}: `)."
    )
    assert "**Guideline:**" in section and "**Clear it:**" in section


def test_delivery_page_names_only_json_schemas_the_code_emits() -> None:
    emitted = {
        value for name, value in vars(schemas).items() if name.isupper() and isinstance(value, str)
    }
    page = (DOCS / "delivery.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Z][A-Za-z]+\.\d+)`", page))
    assert {"SweepReport.1", "FinalizeReport.1", "DeliveryManifest.1"} <= named
    assert named <= emitted, f"docs/delivery.md names schemas no code emits: {named - emitted}"


# -- the publish-hook example ------------------------------------------------------------------


@pytest.fixture
def hook() -> ModuleType:
    return load(DOCS / "examples" / "publish_hook.py")


@pytest.fixture
def shot(workspace: Path) -> Path:
    """A comp's inputs (a plate, a generated sky, a concept) and its render, as real files."""
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1006), seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", range(1001, 1006), seed="sky")
    write_image(workspace / "concept" / "moodboard.png", seed="mood")
    write_sequence(workspace / "comp" / "render", "sh010_comp_v003", range(1001, 1006), seed="c")
    return workspace


def test_publish_hook_records_the_render_and_what_it_was_made_from(
    hook: ModuleType, ledger: Ledger, db_url: str, shot: Path
) -> None:
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no")
    ledger.ingest([str(shot / "plates")], origin="capture", by="dit")
    ledger.ingest([str(shot / "elements")], origin="ai", tool="Runway Gen-4", by="bob", note="sky")
    messages: list[str] = []

    report = hook.record_publish(
        str(shot / "comp/render/sh010_comp_v003.%04d.tif"),
        inputs=[
            str(shot / "plates/sh010_plate.####.tif"),
            str(shot / "elements/sky_gen_v001.%04d.tif"),
        ],
        references=[str(shot / "concept/moodboard.png")],  # never recorded before: now it is
        tool="Nuke@15.1v3",
        artist="carol",
        db=db_url,
        notify=messages.append,
    )

    assert messages == []
    assert report is not None and report.ok and report.edges_added == 3
    card = ledger.show(str(shot / "comp/render/sh010_comp_v003.1003.tif"))
    assert card.asset.kind == "sequence" and card.frames == list(range(1001, 1006))
    assert (card.origin, card.claims[0].claimed_by) == (Origin.DIGITAL_CREATION, "carol")
    assert (card.claims[0].tool, card.claims[0].tool_version) == ("Nuke", "15.1v3")
    assert sorted((link.kind, link.asset.name.rsplit("/", 1)[1]) for link in card.parents) == [
        ("contains", "sh010_plate.####.tif"),
        ("contains", "sky_gen_v001.####.tif"),
        ("references", "moodboard.png"),
    ]
    concept = ledger.show(str(shot / "concept/moodboard.png"))
    assert concept.origin is Origin.UNKNOWN and concept.claims == []
    up = ledger.lineage(str(shot / "comp/render/sh010_comp_v003.####.tif"))
    assert {child.asset.name for child in up.children} == {link.asset.name for link in card.parents}


def test_publish_hook_tells_the_artist_and_does_not_block(
    hook: ModuleType, ledger: Ledger, db_url: str, shot: Path
) -> None:
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True)
    messages: list[str] = []
    output = str(shot / "comp/render/sh010_comp_v003.####.tif")

    # The artist picked "human" but names a generative tool: the ledger refuses the claim.
    result = hook.record_publish(
        output, tool="Runway Gen-4", artist="carol", db=db_url, notify=messages.append
    )

    assert result is None
    assert len(messages) == 1
    assert "NOT recorded" in messages[0] and "generative tool" in messages[0]
    assert "provenance ingest" in messages[0] and "--by carol" in messages[0]
    with pytest.raises(ProvenanceError, match="not in the ledger"):
        ledger.show(output)


def test_publish_hook_blocks_a_generative_publish_it_cannot_record(
    hook: ModuleType, ledger: Ledger, db_url: str, shot: Path
) -> None:
    messages: list[str] = []
    with pytest.raises(UnknownTool, match="Register it"):
        hook.record_publish(
            str(shot / "elements/sky_gen_v001.####.tif"),
            tool="Midjourney v7",
            origin="ai",
            db=db_url,
            notify=messages.append,
        )
    assert len(messages) == 1 and "provenance tools add" in messages[0]


def test_publish_hook_without_a_ledger_does_not_block(
    hook: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVENANCE_DB", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    render = write_image(tmp_path / "nowhere" / "still_v001.png")
    messages: list[str] = []
    assert hook.record_publish(str(render), tool="Krita", notify=messages.append) is None
    assert "provenance init" in messages[0]


def test_python_api_page_shows_the_example_as_it_is() -> None:
    example = (DOCS / "examples" / "publish_hook.py").read_text(encoding="utf-8")
    page = (DOCS / "python-api.md").read_text(encoding="utf-8")
    assert f"```python\n{example}```\n" in page, (
        "docs/python-api.md must show docs/examples/publish_hook.py exactly: copy it in again."
    )


# -- the auditor's export check ----------------------------------------------------------------


def run_verify_export(events: Path, manifest: Path, key: Path) -> subprocess.CompletedProcess[str]:
    """The example as an auditor runs it: its own process, no provenance imported."""
    example = DOCS / "examples" / "verify_export.py"
    return subprocess.run(
        [sys.executable, str(example), str(events), str(manifest), str(key)],
        capture_output=True,
        text=True,
        check=False,
    )


def finalized_and_exported(workspace: Path, tmp_path: Path) -> tuple[list[str], Path, Path]:
    """(exported events, their file, the manifest) of a delivery of two plates, ingested with
    whatever else is in workspace/plates, and events after it."""
    plates = [write_image(workspace / "plates" / f"sh010_plate.{f}.png") for f in (1001, 1002)]
    delivery = workspace / "delivery" / "EP101"
    delivery.mkdir(parents=True)
    for plate in plates:
        shutil.copy2(plate, delivery / plate.name)
    with Ledger.create(str(workspace / ".provenance" / "ledger.db"), cwd=workspace) as ledger:
        ledger.ingest([str(workspace / "plates")], origin="capture", by="dit", workers=1)
        write_image(workspace / "concept" / "moodboard.png", seed="mood")
        ledger.ingest([str(workspace / "concept")], origin="human", by="dana", workers=1)
        report = ledger.finalize(str(delivery), "EP101_VFX_v001", workers=1)
        assert report.finalized
        # Events after the finalize only extend the log the manifest's checkpoint signed.
        ledger.tag(str(workspace / "concept" / "moodboard.png"), origin="human", by="erin")
        events = [json.dumps(event, ensure_ascii=False) for event in ledger.export_events()]
    manifest = delivery / "provenance-manifest.json"
    assert json.loads(manifest.read_text(encoding="utf-8"))["checkpoint"]["size"] < len(events)
    export = tmp_path / "events.jsonl"
    export.write_text("\n".join(events) + "\n", encoding="utf-8")
    return events, export, manifest


def test_verify_export_checks_a_deliverable_against_the_exported_events(
    workspace: Path, tmp_path: Path
) -> None:
    events, export, manifest = finalized_and_exported(workspace, tmp_path)
    good = run_verify_export(export, manifest, default_key_path())
    assert (good.returncode, good.stdout.startswith("OK: ")) == (0, True), good.stdout + good.stderr

    ingest = json.loads(events[1])
    assert ingest["kind"] == "ingest" and ingest["payload"]["by"] == "dit"
    ingest["payload"]["by"] = "mallory"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([events[0], json.dumps(ingest), *events[2:]]) + "\n")
    bad = run_verify_export(edited, manifest, default_key_path())
    assert bad.returncode == 3, bad.stdout + bad.stderr
    assert f"FAILED event #{ingest['id']} (ingest) does not match its hash" in bad.stdout

    # A manifest whose file list was edited no longer matches what the finalize event recorded.
    listed = json.loads(manifest.read_text(encoding="utf-8"))
    listed["files"][0]["digest"] = "xxh3-128:" + "0" * 32
    forged = tmp_path / "forged-manifest.json"
    forged.write_text(json.dumps(listed), encoding="utf-8")
    bad = run_verify_export(export, forged, default_key_path())
    assert bad.returncode == 3, bad.stdout + bad.stderr
    finalize = listed["ledger_event"]["id"]
    assert bad.stdout.splitlines() == [
        f"FAILED event #{finalize} did not record the files the manifest lists"
    ]


def test_verify_export_takes_the_rows_of_a_large_ingest_from_beside_its_event(
    workspace: Path, tmp_path: Path
) -> None:
    # The plates' ingest records more versions than an event lists: they are exported beside it.
    write_notes(workspace / "plates" / "notes", INLINE_ROWS)
    events, export, manifest = finalized_and_exported(workspace, tmp_path)
    ingest = json.loads(events[1])
    assert isinstance(ingest["payload"]["rows"]["asset_versions"], dict)
    good = run_verify_export(export, manifest, default_key_path())
    assert (good.returncode, good.stdout.startswith("OK: ")) == (0, True), good.stdout + good.stderr

    ingest["digested_rows"]["asset_versions"][-1][7] += 1  # a total size: files still resolve
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([events[0], json.dumps(ingest), *events[2:]]) + "\n")
    bad = run_verify_export(edited, manifest, default_key_path())
    assert bad.returncode == 3, bad.stdout + bad.stderr
    assert bad.stdout.splitlines() == [
        f"FAILED the asset_versions exported with event #{ingest['id']} do not match its digest"
    ]


def test_auditor_page_shows_the_export_check_as_it_is() -> None:
    example = (DOCS / "examples" / "verify_export.py").read_text(encoding="utf-8")
    page = (DOCS / "auditor.md").read_text(encoding="utf-8")
    assert f"```python\n{example}```\n" in page, (
        "docs/auditor.md must show docs/examples/verify_export.py exactly: copy it in again."
    )


# -- the studio admin's roles table ------------------------------------------------------------


def test_admin_page_lists_exactly_the_grants_of_each_role() -> None:
    page = (DOCS / "studio-admin.md").read_text(encoding="utf-8")
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(provenance_\w+)` \|[^|]*\|([^|]*)\|$", page, flags=re.M)
    }
    assert sorted(rows) == sorted([roles.AUDITOR, roles.ARTIST, roles.TD])

    def names(cell: str, verb: str) -> list[str]:
        """The tables after "VERB on", up to the next `;`, without the columns in brackets."""
        part = re.search(rf"{verb} on ([^;]*)", cell)
        return re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", part.group(1))) if part else []

    assert names(rows[roles.ARTIST], "INSERT") == list(roles.ARTIST_INSERT)
    assert names(rows[roles.ARTIST], "UPDATE") == list(roles.ARTIST_UPDATE)
    assert names(rows[roles.ARTIST], "DELETE") == []
    assert names(rows[roles.ARTIST], "EXECUTE") == [
        function.split("(")[0] for function in roles.DEFINER_FUNCTIONS
    ]
    assert names(rows[roles.TD], "INSERT") == list(roles.TD_INSERT)
    assert names(rows[roles.TD], "UPDATE") == list(roles.TD_UPDATE)
    for table, columns in roles.ARTIST_UPDATE.items():
        if columns is not None:
            assert f"`{table}` ({', '.join(f'`{c}`' for c in columns)})" in rows[roles.ARTIST]


# -- counts in quoted output -------------------------------------------------------------------

COUNTED = re.compile(
    r"(?<![-\w.])(\d[\d,]*) (files?|assets?|blocking findings?|warnings?|events?|frames?)\b"
)
TEXT_FENCE = re.compile(r"^( *)```text\n(.*?)^\1```", re.S | re.M)


def miscounted(text: str) -> list[str]:
    """The counts in a page's quoted output whose noun disagrees with the number ("1 files")."""
    wrong = []
    for fence in TEXT_FENCE.finditer(text):
        for match in COUNTED.finditer(fence.group(2)):
            one = int(match.group(1).replace(",", "")) == 1
            if one == match.group(2).endswith("s"):
                wrong.append(match.group(0))
    return wrong


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_quoted_output_counts_as_the_cli_does(page: str) -> None:
    # The CLI says "1 file, 2 assets, 1 blocking finding, 0 warnings"; a page quoting
    # "1 files" quotes a version of the code that no longer exists.
    path = ROOT / page if page == "README.md" else DOCS / page
    assert miscounted(path.read_text(encoding="utf-8")) == []


def test_the_count_check_sees_a_wrong_plural() -> None:
    quoted = (
        "```text\n1 files, 1 assets, 2 blocking finding, 0 warnings (policy netflix-2025)\n```\n"
    )
    assert miscounted(quoted) == ["1 files", "1 assets", "2 blocking finding"]


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_revisions_the_docs_name_exist(page: str) -> None:
    # A page that says "schema 0011" or "migration 0011" points at a revision of migrations/;
    # the revision a ledger is at now is quoted only in run blocks (docs/studio-admin.md).
    path = ROOT / page if page == "README.md" else DOCS / page
    named = set(
        re.findall(r"(?:schema|migration|revision)s? (\d{4})\b", path.read_text(encoding="utf-8"))
    )
    existing = {p.name[:4] for p in (ROOT / "migrations" / "versions").glob("[0-9]*.py")}
    assert named <= existing, f"{page} names revisions that do not exist: {named - existing}"
