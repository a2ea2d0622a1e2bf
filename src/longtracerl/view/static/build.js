"use strict";
// Sample explorer of the build report. Reads the embedded page data; in server mode
// (`longtracerl view`) it pages the list, item details and documents from the local API instead.
(function () {
  const DATA = JSON.parse(document.getElementById("page-data").textContent);
  const PAGE = 200;
  const params = new URLSearchParams(location.search);
  const TOKEN = params.get("token") || "";
  const state = { shown: PAGE, selected: null, docCache: {}, docMeta: {} };
  // a static page keeps each detail, document text and the snippet table in a script element of its own,
  // parsed the first time it is shown
  const parsed = {};
  function blob(id) {
    if (!(id in parsed)) { const e = document.getElementById(id); parsed[id] = e ? JSON.parse(e.textContent) : null; }
    return parsed[id];
  }
  function textOf(docId) {
    const d = DATA.docs[docId];
    if (d && DATA.lazy && d.t !== undefined && d.text === undefined) d.text = blob("pd-t-" + d.t);
    return d ? d.text : undefined;
  }
  const snippetOf = (h) => h.snippet || null;
  function hitOf(h) {  // a static page's compact search hit: [hit table index, rank, score, snippet index]
    if (!Array.isArray(h)) return h;
    const t = (blob("pd-hits") || [])[h[0]] || [null, null];
    return { doc_id: t[0], title: t[1], rank: h[1], score: h[2], snippet: h[3] >= 0 ? (blob("pd-snippets") || [])[h[3]] : null };
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  const fmt = (n) => (n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"));
  const $ = (id) => document.getElementById(id);

  async function api(path) {
    const r = await fetch(path, { headers: TOKEN ? { "X-Token": TOKEN } : {} });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  // ------------------------------------------------------------------ tabs
  function showTab(name) {
    for (const t of ["report", "samples"]) {
      $("tab-" + t).hidden = t !== name;
      $("tab-btn-" + t).classList.toggle("active", t === name);
    }
  }
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => {
    showTab(b.dataset.tab);
    if (b.dataset.tab === "samples") history.replaceState(null, "", "#samples");
    else history.replaceState(null, "", "#report");
  }));

  // ------------------------------------------------------------------ filters and list
  function filters() {
    return {
      q: $("f-search").value.trim().toLowerCase(),
      strategy: $("f-strategy").value,
      reason: $("f-reason").value,
      min: $("f-min").value === "" ? null : Number($("f-min").value),
      max: $("f-max").value === "" ? null : Number($("f-max").value),
    };
  }
  function matches(it, f) {
    if (f.q && !(it.question || "").toLowerCase().includes(f.q)) return false;
    if (f.strategy && it.strategy !== f.strategy) return false;
    if (f.reason && it.reason !== f.reason) return false;
    if (f.min !== null && !(it.prompt_tokens !== null && it.prompt_tokens >= f.min)) return false;
    if (f.max !== null && !(it.prompt_tokens !== null && it.prompt_tokens <= f.max)) return false;
    return true;
  }
  async function listItems(limit) {
    const f = filters();
    if (DATA.server) {
      const qs = new URLSearchParams({ offset: "0", limit: String(limit), q: f.q, strategy: f.strategy, reason: f.reason });
      if (f.min !== null) qs.set("min_tokens", String(f.min));
      if (f.max !== null) qs.set("max_tokens", String(f.max));
      return api("api/items?" + qs.toString());
    }
    const all = DATA.items.filter((it) => matches(it, f));
    return { items: all.slice(0, limit), total: all.length };
  }

  function embedNote() {
    const n = DATA.total_samples, e = DATA.embedded_samples;
    let msg = DATA.total_items + " items: " + n + " samples kept, " + DATA.total_rejected + " rejected. ";
    if (DATA.server) msg += "Served by `longtracerl view`: every item is available.";
    else if (e < n || DATA.embedded_rejected < DATA.total_rejected) {
      msg += "This file embeds the first " + e + " samples and the first " + DATA.embedded_rejected +
        " rejected items in file order; open the rest with `longtracerl view " + DATA.run.dir + "`.";
    } else msg += "All items are embedded in this file.";
    if (DATA.items.length < DATA.total_items && !DATA.server) msg += " The list shows the first " + DATA.items.length + ".";
    $("embed-note").textContent = msg;
  }

  async function renderList() {
    const list = $("sample-list");
    let res;
    try { res = await listItems(state.shown); } catch (err) {
      list.replaceChildren(el("p", { class: "missing-msg", text: "could not load the list: " + err.message }));
      return;
    }
    list.replaceChildren(...res.items.map((it) => {
      const badge = it.kind === "sample" ? el("span", { class: "badge kept", text: "kept" })
        : el("span", { class: "badge rejected", text: it.stage + ": " + it.reason });
      const meta = it.kind === "sample"
        ? it.strategy + " \u00b7 " + fmt(it.prompt_tokens) + " prompt tokens \u00b7 " + it.n_docs + " docs"
        : (it.detail || it.item_id || "");
      return el("div", { class: "row" + (it.id === state.selected ? " selected" : ""), "data-id": it.id,
        onclick: () => select(it.id) },
        el("div", { class: "qtext" }, badge, it.question || el("em", { text: "(no question: " + (it.item_id || it.id) + ")" })),
        el("div", { class: "meta", text: meta }));
    }));
    $("sample-count").textContent = res.items.length + " shown of " + res.total + " matching";
    $("sample-count").dataset.total = String(res.total);
    $("list-more").hidden = res.items.length >= res.total;
  }
  $("list-more").addEventListener("click", () => { state.shown += PAGE; renderList(); });
  for (const id of ["f-search", "f-strategy", "f-reason", "f-min", "f-max"]) {
    for (const ev of ["input", "change"]) $(id).addEventListener(ev, () => { state.shown = PAGE; renderList(); });
  }

  // ------------------------------------------------------------------ one item
  async function getDetail(id) {
    if (DATA.server) return api("api/item/" + encodeURIComponent(id));
    if (DATA.lazy) return id in DATA.detail_index ? blob("pd-d-" + DATA.detail_index[id]) : null;
    return DATA.details[id] || null;
  }
  async function getDoc(docId) {
    if (DATA.server) {
      if (!state.docCache[docId]) state.docCache[docId] = await api("api/doc/" + encodeURIComponent(docId));
      return state.docCache[docId];
    }
    textOf(docId);
    return DATA.docs[docId] || null;
  }
  function docTitle(docId) {
    const d = DATA.docs[docId] || state.docMeta[docId];
    return d && d.title ? d.title : docId;
  }

  async function select(id) {
    state.selected = id;
    history.replaceState(null, "", "#sample=" + encodeURIComponent(id));
    document.querySelectorAll("#sample-list .row").forEach((r) => r.classList.toggle("selected", r.dataset.id === id));
    const view = $("sample-view");
    let det;
    try { det = await getDetail(id); } catch (err) {
      view.replaceChildren(el("p", { class: "missing-msg", text: "could not load " + id + ": " + err.message }));
      return;
    }
    if (!det) {
      view.replaceChildren(el("p", { class: "missing-msg", text: "This item is not embedded in the file (size cap). " +
        "Run `longtracerl view " + DATA.run.dir + "` to open it." }));
      return;
    }
    if (det.doc_meta) Object.assign(state.docMeta, det.doc_meta);
    view.replaceChildren(...renderDetail(det));
    view.dataset.itemId = id;
  }

  function renderDetail(det) {
    const q = det.question, it = det.item, out = [];
    const head = el("div", { class: "card", id: "question-card" },
      el("div", {}, it.kind === "sample" ? el("span", { class: "badge kept", text: "kept" })
        : el("span", { class: "badge rejected", text: "rejected at " + it.stage + ": " + it.reason })),
      el("div", { class: "question-text", text: q.question || "(no question)" }),
      el("div", {}, el("b", { text: "Answer: " }), q.answer || ""),
      q.answer_aliases && q.answer_aliases.length ? el("div", { class: "note", text: "aliases: " + q.answer_aliases.join("; ") }) : null,
      el("div", { id: "gold-entities" }, el("b", { text: "Gold entities: " }),
        ...(q.gold_entities || []).map((g) => el("span", { class: "badge", text: g }))),
      it.detail ? el("div", { class: "missing-msg", text: it.detail }) : null,
      el("div", { class: "note", text: [it.id, it.source, q.writer && q.writer.backend ? "writer: " + q.writer.backend : ""].filter(Boolean).join(" \u00b7 ") }));
    out.push(head);
    if (det.missing && det.missing.length) {
      out.push(el("div", { class: "problems" }, ...det.missing.map((m) => el("div", { text: m }))));
    }
    // chain
    if (det.chain && det.chain.length) {
      const hops = [];
      det.chain.forEach((h, i) => {
        if (i) hops.push(el("span", { class: "arrow", text: "\u2192" }));
        hops.push(el("div", { class: "hop" },
          h.relation ? el("div", { class: "rel", text: h.relation }) : (i ? el("div", { class: "rel", text: "(no relation)" }) : null),
          h.jump ? el("span", { class: "badge jump", text: "jump" }) : null,
          el("div", { text: h.title }),
          h.clue ? el("div", { class: "clue", text: "clue: " + h.clue }) : null));
      });
      out.push(el("div", { class: "card", id: "chain" }, el("h3", { text: "Chain " + (det.chain_id || "") }),
        el("div", { class: "chain" }, ...hops)));
    }
    // context strip, with the document reader right under it
    if (det.context) out.push(renderContext(det));
    out.push(el("div", { id: "doc-reader", hidden: true }));
    // trajectory
    if (det.trajectory) out.push(renderTrajectory(det.trajectory));
    return out;
  }

  function renderContext(det) {
    const c = det.context;
    const total = c.docs.reduce((a, d) => a + (d.n_tokens || 0), 0) || 1;
    const strip = el("div", { class: "tier-strip", id: "tier-strip" });
    const t = det.trajectory || { steps: [], cited_doc_ids: [] };
    const opened = new Set(t.steps.filter((s) => s.kind === "open" && !s.error).map((s) => s.doc_id));
    const cited = new Set(t.cited_doc_ids || []);
    const re = goldRegex(det.question.gold_entities);
    c.docs.forEach((d, i) => {
      const known = DATA.docs[d.doc_id] || state.docMeta[d.doc_id];
      const missing = known && known.missing;
      const title = d.title || (known && known.title) || d.doc_id;
      // gold-entity mentions are counted where the text is in the page (embedded documents)
      const text = DATA.docs[d.doc_id] ? textOf(d.doc_id) : known && known.text;
      const nMentions = known && typeof text === "string" && re ? (text.match(re) || []).length : null;
      const marks = (opened.has(d.doc_id) ? "●" : "") + (cited.has(d.doc_id) ? "★" : "");
      const tip = [(i + 1) + ". " + title, d.tier + ", " + fmt(d.n_tokens) + " tokens"];
      if (nMentions !== null) tip.push(nMentions + " gold-entity mentions" + (known.truncated ? " (in the embedded part)" : ""));
      if (opened.has(d.doc_id)) tip.push("opened by the agent");
      if (cited.has(d.doc_id)) tip.push("cited by the agent");
      if (missing) tip.push(missing);
      const box = el("div", { class: "doc tier-" + d.tier + (missing ? " missing" : ""), "data-doc-id": d.doc_id,
        "data-tier": d.tier, "data-mentions": nMentions === null ? null : String(nMentions), title: tip.join("\n"),
        onclick: () => openDoc(d.doc_id, det, box) },
        el("div", { class: "label", text: (marks ? marks + " " : "") + title }),
        el("div", { class: "tok", text: fmt(d.n_tokens) }));
      box.style.flexGrow = String(Math.max(d.n_tokens || 0, total / 400));
      box.style.flexBasis = "0";
      strip.appendChild(box);
    });
    const counts = {};
    c.docs.forEach((d) => { counts[d.tier] = counts[d.tier] || { n: 0, tok: 0 }; counts[d.tier].n++; counts[d.tier].tok += d.n_tokens || 0; });
    const legend = el("div", { class: "legend" }, ...["gold", "tier1", "tier2", "fill"].filter((t) => counts[t]).map((t) =>
      el("span", { class: "tier-" + t, text: t + ": " + counts[t].n + " docs, " + fmt(counts[t].tok) + " tokens" })));
    return el("div", { class: "card", id: "context" },
      el("h3", { text: "Context: " + c.docs.length + " documents, " + fmt(c.prompt_tokens) + " prompt tokens with the chat template (" + (c.tokenizer || "") + "), in order" }),
      strip, legend, el("div", { class: "note", text: "Widths are token counts. \u25cf opened by the agent, \u2605 cited. " +
        "Click a document to read it with its gold-entity mentions highlighted and the answer underlined; hover for details." }));
  }

  function renderTrajectory(t) {
    const steps = t.steps.map((s, i) => {
      const parts = [el("div", { class: "kind", text: (i + 1) + ". " + s.kind })];
      if (s.thought) parts.push(el("div", { class: "note", text: s.thought }));
      if (s.query) parts.push(el("div", {}, el("b", { text: "query: " }), s.query));
      if (s.results && s.results.length) {
        parts.push(el("ol", {}, ...s.results.map(hitOf).map((h) => el("li", {}, el("span", { text: h.title || h.doc_id }),
          " ", el("span", { class: "note", text: "(" + h.doc_id + ", " + (h.score === null || h.score === undefined ? "" : Number(h.score).toFixed(2)) + ")" }),
          snippetOf(h) ? el("div", { class: "snippet", text: snippetOf(h) }) : null))));
      }
      if (s.kind === "open" && s.doc_id) parts.push(el("div", {}, el("b", { text: "opened: " }), docTitle(s.doc_id) + " (" + s.doc_id + ")"));
      if (s.answer) parts.push(el("div", {}, el("b", { text: "answer: " }), s.answer));
      if (s.cited_doc_ids && s.cited_doc_ids.length) parts.push(el("div", { class: "note", text: "cites: " + s.cited_doc_ids.map(docTitle).join("; ") }));
      if (s.error) parts.push(el("div", { class: "missing-msg", text: "error: " + s.error }));
      return el("div", { class: "step " + s.kind }, ...parts);
    });
    return el("div", { class: "card", id: "trajectory" },
      el("h3", { text: "Agent trajectory (" + (t.agent || "agent") + ", attempt " + (t.attempt ?? "") + ", " + t.steps.length + " steps, ended: " + (t.end_reason || "?") + ")" }),
      el("div", { class: "steps" }, ...steps),
      el("div", {}, el("b", { text: "Final answer: " }), t.final_answer || "", " ",
        el("span", { class: t.correct ? "badge kept" : "badge rejected", text: t.correct ? "correct" : "not correct" })),
      t.cited_doc_ids.length ? el("div", { class: "note", text: "cited: " + t.cited_doc_ids.map(docTitle).join("; ") }) : null);
  }

  // ------------------------------------------------------------------ document reader
  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
  function goldRegex(entities) {
    const names = (entities || []).filter((g) => g && g.trim()).sort((a, b) => b.length - a.length).map(escapeRe);
    if (!names.length) return null;
    return new RegExp("(?<![\\p{L}\\p{N}])(?:" + names.join("|") + ")(?![\\p{L}\\p{N}])", "giu");
  }
  // gold entities and the answer (with its aliases) in one pass; a name that is both gets both marks
  function highlighted(text, q) {
    const lower = (x) => x.toLocaleLowerCase();
    const gold = new Set((q.gold_entities || []).filter(Boolean).map(lower));
    const answer = new Set([q.answer, ...(q.answer_aliases || [])].filter((x) => x && x.trim()).map(lower));
    const re = goldRegex([...(q.gold_entities || []), ...answer]);
    const frag = document.createDocumentFragment();
    if (!re) { frag.appendChild(document.createTextNode(text)); return { frag, n: 0, nAnswer: 0 }; }
    let last = 0, n = 0, nAnswer = 0;
    for (const m of text.matchAll(re)) {
      const k = lower(m[0]);
      const cls = [];
      if (gold.has(k) || !answer.has(k)) { cls.push("gold-mention"); n++; }
      if (answer.has(k)) { cls.push("answer-mention"); nAnswer++; }
      if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      frag.appendChild(el("mark", { class: cls.join(" "), text: m[0] }));
      last = m.index + m[0].length;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return { frag, n, nAnswer };
  }
  async function openDoc(docId, det, box) {
    document.querySelectorAll(".tier-strip .doc").forEach((b) => b.classList.toggle("active", b === box));
    const reader = $("doc-reader");
    reader.hidden = false;
    let d;
    try { d = await getDoc(docId); } catch (err) { d = { missing: err.message }; }
    const head = el("h3", { text: (d && d.title) || docId });
    const meta = el("div", { class: "note", text: docId + (box ? " \u00b7 " + box.dataset.tier : "") });
    if (!d || d.text === null || d.text === undefined) {
      let why = d && d.missing ? d.missing : "not embedded in this file";
      if (d && d.over_budget) why = "text not embedded (the page's size budget is used up); open it with `longtracerl view " + DATA.run.dir + "`";
      reader.replaceChildren(head, meta, el("p", { class: "missing-msg", id: "doc-missing", text: "Document text unavailable: " + why }));
      return;
    }
    const { frag, n, nAnswer } = highlighted(d.text, det.question);
    const body = el("div", { class: "doc-text" });
    body.appendChild(frag);
    const notes = [fmt(d.n_chars) + " characters", n + " gold-entity mentions highlighted",
      nAnswer + " answer mentions (underlined)"];
    if (d.truncated) notes.push("showing the first " + fmt(d.text.length) + " characters");
    reader.replaceChildren(head, meta, el("div", { class: "note", id: "doc-notes", text: notes.join(" \u00b7 ") }), body);
    reader.scrollIntoView({ block: "nearest" });
  }

  // ------------------------------------------------------------------ start
  for (const s of DATA.strategies) $("f-strategy").appendChild(el("option", { value: s, text: s }));
  for (const r of DATA.reasons) $("f-reason").appendChild(el("option", { value: r, text: "rejected: " + r }));
  embedNote();
  renderList().then(() => {
    const h = decodeURIComponent(location.hash.slice(1));
    if (h.startsWith("sample=")) { showTab("samples"); select(h.slice(7)); }
    else if (h === "samples") showTab("samples");
    document.body.dataset.ready = "1";
  });
})();
