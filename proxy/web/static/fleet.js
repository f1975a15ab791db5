// MicroFi admin panel: the proxy fleet (GET /api/admin/fleet): every proxy
// registered in the catalog, its version, the tenant schema it can serve,
// the catalog changes it has applied and its heartbeat age. admin.js owns
// sign-in; this script loads the list whenever the signed-in view shows.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "microfi.admin.token";

  function td(text) {
    const e = document.createElement("td");
    e.textContent = text;
    return e;
  }

  async function load() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return;
    let res;
    try {
      res = await fetch("/api/admin/fleet", { headers: { Accept: "application/json", Authorization: "Bearer " + token } });
    } catch (e) {
      return;
    }
    if (res.status !== 200) return;
    const data = await res.json();
    const pos = data.position || { changes: 0, revocations: 0 };
    $("fleet-summary").textContent = data.live + " live of " + (data.proxies || []).length +
      " registered proxies; catalog change position " + pos.changes + "/" + pos.revocations;
    const tbody = $("fleet-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const p of data.proxies || []) {
      const tr = document.createElement("tr");
      tr.dataset.proxyId = p.id;
      tr.dataset.state = p.state;
      const behind = (pos.changes - p.applied.changes) + (pos.revocations - p.applied.revocations);
      const applied = p.applied.changes + "/" + p.applied.revocations + (behind > 0 ? " (" + behind + " behind)" : "");
      tr.append(td(p.id + (p.self ? " (this one)" : "")), td(p.address), td(p.version), td(String(p.tenant_schema)),
        td(applied), td(p.state), td(p.age_seconds.toFixed(1) + " s ago"), td(new Date(p.started_at).toLocaleString()));
      tbody.appendChild(tr);
    }
  }

  $("fleet-refresh").addEventListener("click", load);
  const section = $("admin-section");
  new MutationObserver(() => { if (!section.hidden) load(); }).observe(section, { attributes: true, attributeFilter: ["hidden"] });
  if (!section.hidden) load();
})();
