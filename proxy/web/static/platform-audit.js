// MicroFi admin panel: the platform audit trail (admin API and CLI
// actions), newest first. admin.js owns sign-in; this script loads the
// trail whenever the signed-in view is shown.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "microfi.admin.token";
  let cursor = "";

  function td(text) {
    const e = document.createElement("td");
    e.textContent = text;
    return e;
  }

  async function load(more) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return;
    const params = new URLSearchParams({ limit: "20" });
    const action = $("platform-audit-action").value;
    if (action) params.set("action", action);
    if (more && cursor) params.set("cursor", cursor);
    let res;
    try {
      res = await fetch("/api/admin/audit?" + params, { headers: { Accept: "application/json", Authorization: "Bearer " + token } });
    } catch (e) {
      return;
    }
    if (res.status !== 200) return;
    const data = await res.json();
    const tbody = $("platform-audit-table").querySelector("tbody");
    if (!more) tbody.replaceChildren();
    for (const e of data.entries || []) {
      const tr = document.createElement("tr");
      tr.dataset.auditId = e.id;
      const who = e.role + (e.user_id ? " #" + e.user_id : "") + (e.client_addr ? " from " + e.client_addr : "");
      const details = Object.entries(e.details || {}).map(([k, v]) => k + ": " + v).join(", ");
      tr.append(td(new Date(e.at).toLocaleString()), td(who), td(e.action), td(e.target_id ? "#" + e.target_id : ""), td(details));
      tbody.appendChild(tr);
    }
    cursor = data.next_cursor || "";
    $("platform-audit-more").hidden = !cursor;
  }

  $("platform-audit-action").addEventListener("change", () => load(false));
  $("platform-audit-refresh").addEventListener("click", () => load(false));
  $("platform-audit-more").addEventListener("click", () => load(true));
  // Load when the signed-in view appears; Refresh shows later changes.
  const section = $("admin-section");
  new MutationObserver(() => { if (!section.hidden) load(false); }).observe(section, { attributes: true, attributeFilter: ["hidden"] });
  if (!section.hidden) load(false);
})();
