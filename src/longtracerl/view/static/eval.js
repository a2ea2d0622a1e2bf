"use strict";
// Row filter of the eval and compare pages: text search and "wrong or differing only".
(function () {
  const search = document.getElementById("f-search");
  const wrong = document.getElementById("f-wrong");
  const rows = Array.from(document.querySelectorAll("tr.eval-row"));
  const count = document.getElementById("row-count");
  function apply() {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    for (const r of rows) {
      let ok = !q || r.textContent.toLowerCase().includes(q);
      if (ok && wrong.checked) {
        if ("differs" in r.dataset) ok = r.dataset.differs === "1";
        else ok = r.dataset.error === "1" || r.dataset.score === "" || Number(r.dataset.score) < 1;
      }
      r.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = shown + " of " + rows.length + " rows shown";
    count.dataset.shown = String(shown);
  }
  search.addEventListener("input", apply);
  wrong.addEventListener("change", apply);
  apply();
  document.body.dataset.ready = "1";
})();
