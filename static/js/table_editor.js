// Share-table editor: rows of recipient + percent; live totals, reserve and a split bar.
// Percentages are read the way the page's language writes them (the server puts its decimal
// and group signs on the table) and turned into integer millibips with string arithmetic,
// never floats. The totals are only a preview: the server reads the rows again and decides.
(function () {
  "use strict";
  const table = document.getElementById("rows");
  const body = table.querySelector("tbody");
  const totals = document.getElementById("totals");
  const bar = document.getElementById("split-bar");
  const options = document.getElementById("project-options");
  const TOTAL = 10000000;
  const DECIMAL = table.dataset.decimal || ".";
  const GROUP = table.dataset.group || ",";
  const PERCENT = table.dataset.percent || "%";

  function escaped(sign) { return sign.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
  // Whole percent (grouped by threes or not), the language's decimal sign and up to five
  // decimals, an optional percent sign: "12.5", "12.5%" in English; "12,5", "12,5 %" in German.
  const SHARE = new RegExp(
    "^\\s*(\\d{1,3}(?:" + escaped(GROUP) + "\\d{3})*|\\d+)(?:" + escaped(DECIMAL) +
    "(\\d{0,5}))?\\s*%?\\s*$"
  );

  function toMillibips(text) {
    const m = SHARE.exec(text || "");
    if (!m) return null;
    const whole = parseInt(m[1].split(GROUP).join(""), 10);
    return whole * 100000 + parseInt(((m[2] || "") + "00000").slice(0, 5), 10);
  }
  function grouped(whole) {
    return String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, GROUP);
  }
  function fmt(millibips) {
    const whole = Math.floor(millibips / 100000);
    const rest = String(millibips % 100000).padStart(5, "0").replace(/0+$/, "");
    return grouped(whole) + (rest ? DECIMAL + rest : "") + PERCENT;
  }
  // A row with a ref names an email address the user may not read (money rule 9): it is
  // shown masked and read-only, and the server keeps the address of the entry it refers to.
  function addRow(recipient, percent, note, ref) {
    const tr = document.createElement("tr");
    tr.innerHTML =
      '<td><input type="text" name="recipient" list="project-options" autocomplete="off" aria-label="Recipient"></td>' +
      '<td><input type="text" name="percent" inputmode="decimal" aria-label="Share in percent"><div class="small muted pct-hint"></div></td>' +
      '<td><input type="text" name="note" maxlength="200" aria-label="Note"></td>' +
      '<td><button type="button" class="link small" aria-label="Remove row">remove</button></td>';
    tr.querySelector("[name=recipient]").value = recipient || "";
    tr.querySelector("[name=percent]").value = percent || "";
    tr.querySelector("[name=note]").value = note || "";
    if (ref) {
      tr.dataset.ref = ref;
      const input = tr.querySelector("[name=recipient]");
      input.readOnly = true;
      input.classList.add("masked");
      input.title = "A hidden address: saved as it is. Remove the row to take it out.";
    }
    tr.querySelector("button").addEventListener("click", function () { tr.remove(); update(); });
    body.appendChild(tr);
    return tr;
  }
  function update() {
    let sum = 0, deps = 0, people = 0, bad = 0;
    body.querySelectorAll("tr").forEach(function (tr) {
      const rec = tr.querySelector("[name=recipient]").value.trim();
      const mb = toMillibips(tr.querySelector("[name=percent]").value);
      const hint = tr.querySelector(".pct-hint");
      if (mb === null) {
        hint.textContent = rec ? "enter a percentage, e.g. " + fmt(1250000) : "";
        bad += rec ? 1 : 0;
        return;
      }
      hint.textContent = "";
      sum += mb;
      if (rec.startsWith("project:") || rec.startsWith("purl:")) deps += mb; else people += mb;
    });
    const reserve = TOTAL - sum;
    totals.innerHTML = "";
    const parts = [
      ["Dependencies", deps], ["People", people], ["Reserve", reserve],
    ];
    parts.forEach(function (p) {
      const s = document.createElement("span");
      s.textContent = p[0] + ": " + (p[1] < 0 ? "-" + fmt(-p[1]) : fmt(p[1])) + "  ";
      s.id = "total-" + p[0].toLowerCase();
      totals.appendChild(s);
    });
    if (reserve < 0) {
      const w = document.createElement("strong");
      w.style.color = "#b42318";
      w.textContent = " The rows add up to more than 100%.";
      totals.appendChild(w);
    }
    bar.innerHTML = "";
    [[deps, "#2e8b72"], [people, "#7cc4ae"], [Math.max(reserve, 0), "#dfe7ee"]].forEach(function (p) {
      const s = document.createElement("span");
      s.style.width = (Math.max(p[0], 0) / TOTAL * 100) + "%";
      s.style.background = p[1];
      bar.appendChild(s);
    });
  }
  let timer = null;
  body.addEventListener("input", function (e) {
    update();
    if (e.target.name === "recipient") {
      clearTimeout(timer);
      const q = e.target.value.replace(/^project:/, "");
      if (q.length < 2 || e.target.value.indexOf(":") > -1 && !e.target.value.startsWith("project:")) return;
      timer = setTimeout(function () {
        fetch("/projects/search.json?q=" + encodeURIComponent(q))
          .then(function (r) { return r.json(); })
          .then(function (data) {
            options.innerHTML = "";
            data.results.forEach(function (p) {
              const o = document.createElement("option");
              o.value = p.recipient; o.label = p.name + (p.status === "unclaimed" ? " (unclaimed)" : (p.verified ? "" : " (unverified)"));
              options.appendChild(o);
            });
          });
      }, 200);
    }
  });
  document.querySelectorAll("[data-add]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      const tr = addRow(btn.dataset.add, "", "");
      tr.querySelector("[name=recipient]").focus();
      update();
    });
  });
  // The rows go to the server as one JSON field: three fields per row would pass Django's
  // limit on form fields (1,000) at ~333 rows, and a table may have 500.
  const form = document.getElementById("table-form");
  form.addEventListener("submit", function () {
    const rows = [];
    body.querySelectorAll("tr").forEach(function (tr) {
      rows.push({
        recipient: tr.querySelector("[name=recipient]").value,
        percent: tr.querySelector("[name=percent]").value,
        note: tr.querySelector("[name=note]").value,
        ref: tr.dataset.ref || "",
      });
    });
    let field = form.querySelector("input[name=rows]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "rows";
      form.appendChild(field);
    }
    field.value = JSON.stringify(rows);
    // Disabled fields are not sent; they come back when the page is shown again (Back).
    body.querySelectorAll("input").forEach(function (input) { input.disabled = true; });
  });
  window.addEventListener("pageshow", function () {
    body.querySelectorAll("input").forEach(function (input) { input.disabled = false; });
  });
  const initial = JSON.parse(document.getElementById("initial-rows").textContent);
  initial.forEach(function (r) { addRow(r.recipient, r.percent, r.note, r.ref); });
  if (!initial.length) addRow("project:", "", "");
  update();
})();
