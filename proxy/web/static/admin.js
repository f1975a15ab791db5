// MicroFi platform admin panel: lists, searches, creates, edits, suspends
// and deletes tenants through /api/admin/tenants on the admin host.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "microfi.admin.token";
  const PAGE = 20;
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let offset = 0;
  let total = 0;
  let query = "";
  let current = null;

  async function api(method, path, body) {
    const h = { Accept: "application/json", Authorization: "Bearer " + token };
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (res.status === 401 || res.status === 403) {
      signOut((data.error || "Not allowed") + ": sign in with a platform_admin token.");
    }
    return { status: res.status, data };
  }

  function say(msg, ok) {
    const el = $("admin-status");
    el.textContent = msg || "";
    el.className = msg ? "notice " + (ok ? "notice-ok" : "notice-error") : "";
  }

  function fieldText(data) {
    let msg = data.error || "Request failed";
    if (data.fields) msg += ": " + Object.entries(data.fields).map(([k, v]) => k + " " + v).join("; ");
    return msg;
  }

  function signOut(msg) {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    $("admin-section").hidden = true;
    $("session-box").hidden = true;
    $("token-section").hidden = false;
    const e = $("token-error");
    e.textContent = msg || "";
    e.hidden = !msg;
  }

  function signedIn() {
    $("token-section").hidden = true;
    $("admin-section").hidden = false;
    $("session-box").hidden = false;
    load();
    loadConversion();
  }

  // Demo-to-signup conversion of the demos created in the last 7 and 30
  // days (GET /api/admin/conversion).
  async function loadConversion() {
    const box = $("conversion-stats");
    const { status, data } = await api("GET", "/api/admin/conversion");
    if (status !== 200) {
      box.textContent = fieldText(data);
      return;
    }
    box.replaceChildren();
    for (const w of data.windows || []) {
      const d = document.createElement("div");
      d.className = "stat";
      d.dataset.days = w.days;
      const l = document.createElement("div");
      l.className = "label";
      l.textContent = "Last " + w.days + " days";
      const v = document.createElement("div");
      v.className = "value";
      v.textContent = w.demos ? (100 * w.rate).toFixed(1) + "%" : "–";
      const n = document.createElement("div");
      n.className = "muted";
      n.textContent = w.converted + " of " + w.demos + " demos led to a signup";
      d.append(l, v, n);
      box.appendChild(d);
    }
  }

  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token-input").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    signedIn();
  });
  $("signout-button").addEventListener("click", () => signOut(""));

  function button(label, cls, fn) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-sm " + (cls || "");
    b.textContent = label;
    b.addEventListener("click", fn);
    return b;
  }

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    tr.appendChild(td);
    return td;
  }

  async function load() {
    const q = new URLSearchParams({ limit: PAGE, offset });
    if (query) q.set("q", query);
    const { status, data } = await api("GET", "/api/admin/tenants?" + q.toString());
    if (status !== 200) {
      if (status !== 401 && status !== 403) say(data.error || "Could not load tenants.");
      return;
    }
    total = data.total || 0;
    const tbody = $("tenants-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const t of data.tenants || []) {
      const tr = document.createElement("tr");
      tr.dataset.tenantId = t.id;
      cell(tr, t.id);
      const hostCell = cell(tr, "");
      const link = document.createElement("a");
      link.href = t.url || "#";
      link.textContent = t.host;
      hostCell.appendChild(link);
      cell(tr, t.name);
      cell(tr, t.country_code);
      cell(tr, t.subscription_plan);
      const st = cell(tr, "");
      const badge = document.createElement("span");
      badge.className = "badge badge-" + t.status;
      badge.textContent = t.status;
      st.appendChild(badge);
      const shardCell = cell(tr, t.shard || "(db_url)");
      if (t.db_bytes) shardCell.title = (t.db_bytes / 1048576).toFixed(1) + " MiB";
      const domainCell = cell(tr, t.custom_domain || "");
      if (t.custom_domain && t.custom_domain_tls) {
        const tls = document.createElement("span");
        tls.className = "badge badge-tls-" + t.custom_domain_tls.state;
        tls.textContent = "TLS " + t.custom_domain_tls.state;
        tls.title = certText(t.custom_domain_tls);
        domainCell.append(" ", tls);
      }
      const actions = document.createElement("div");
      actions.className = "row-actions";
      cell(tr, "").appendChild(actions);
      actions.append(
        button("View", "", () => view(t.id)),
        t.status === "suspended"
          ? button("Resume", "", () => patch(t.id, { status: "active" }, "Resumed " + t.host))
          : button("Suspend", "btn-danger", () => patch(t.id, { status: "suspended" }, "Suspended " + t.host)),
        button("Delete", "btn-danger", () => remove(t))
      );
      tbody.appendChild(tr);
    }
    const end = Math.min(offset + PAGE, total);
    $("page-info").textContent = total ? (offset + 1) + "–" + end + " of " + total : "No tenants";
    $("prev-page").disabled = offset === 0;
    $("next-page").disabled = end >= total;
  }

  async function patch(id, body, okMsg) {
    const { status, data } = await api("PATCH", "/api/admin/tenants/" + id, body);
    if (status === 200) {
      say(okMsg || "Saved", true);
      if (current && current.id === id) show(data.tenant || data);
      load();
    } else if (status !== 401 && status !== 403) {
      say(fieldText(data));
    }
  }

  async function remove(t) {
    if (!confirm("Delete tenant " + t.host + "? Its database is backed up first.")) return;
    const { status, data } = await api("DELETE", "/api/admin/tenants/" + t.id);
    if (status === 200 || status === 204) {
      say("Deleted " + t.host, true);
      if (current && current.id === t.id) $("detail-section").hidden = true;
      load();
    } else if (status !== 401 && status !== 403) {
      say(data.error || "Delete failed");
    }
  }

  // certText explains a custom domain's certificate state in one line.
  function certText(c) {
    if (c.state === "active") return "valid until " + c.not_after + (c.last_error ? "; last renewal failed: " + c.last_error : "");
    if (c.state === "failed") return "last order failed: " + (c.last_error || "unknown error");
    if (c.state === "pending") return c.last_error ? "pending: " + c.last_error : "pending: issued on the first HTTPS request once DNS points here";
    return "no custom domain";
  }

  function show(t) {
    current = t;
    $("detail-title").textContent = "Tenant #" + t.id + " · " + t.host;
    const facts = $("detail-facts");
    facts.replaceChildren();
    const add = (k, v) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v || "—";
      facts.append(dt, dd);
    };
    add("Host", t.host);
    add("Country", t.country_code);
    add("Created", t.created_at);
    if (t.expires_at) add("Expires", t.expires_at);
    if (t.custom_domain && t.custom_domain_tls) {
      add("Certificate", t.custom_domain_tls.state + " · " + certText(t.custom_domain_tls));
      const d = t.custom_domain_tls.dns;
      if (d) add("DNS record", d.name + "  " + d.type + "  " + d.value + "  (or " + d.alternative + ")");
    }
    $("edit-name").value = t.name || "";
    $("edit-plan").value = t.subscription_plan || "starter";
    $("edit-domain").value = t.custom_domain || "";
    $("edit-status").value = t.status || "active";
    $("detail-section").hidden = false;
  }

  async function view(id) {
    const { status, data } = await api("GET", "/api/admin/tenants/" + id);
    if (status === 200) {
      show(data.tenant || data);
      $("detail-title").scrollIntoView();
      $("edit-name").focus({ preventScroll: true });
    } else if (status !== 401 && status !== 403) {
      say(data.error || "Could not load tenant");
    }
  }

  $("detail-close").addEventListener("click", () => { $("detail-section").hidden = true; current = null; });
  $("edit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!current) return;
    patch(current.id, {
      name: $("edit-name").value.trim(),
      subscription_plan: $("edit-plan").value,
      custom_domain: $("edit-domain").value.trim(),
      status: $("edit-status").value,
    }, "Saved " + current.host);
  });

  $("create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      host: $("create-host").value.trim().toLowerCase(),
      name: $("create-name").value.trim(),
      country: $("create-country").value.trim().toUpperCase(),
      subscription_plan: $("create-plan").value,
    };
    const d = $("create-domain").value.trim();
    if (d) body.custom_domain = d;
    const adminEmail = $("create-admin-email").value.trim();
    if (adminEmail) {
      body.admin_email = adminEmail;
      body.admin_password = $("create-admin-password").value;
    }
    const { status, data } = await api("POST", "/api/admin/tenants", body);
    // The answer is shown next to the form, not at the top of the page,
    // where a long tenant list would keep it off-screen.
    const box = $("create-status");
    if (status === 201) {
      box.textContent = "Created " + body.host + ".";
      box.className = "notice notice-ok";
      ev.target.reset();
      load();
    } else if (status !== 401 && status !== 403) {
      box.textContent = fieldText(data);
      box.className = "notice notice-error";
    }
    box.scrollIntoView({ block: "nearest" });
  });

  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    query = $("search-input").value.trim();
    offset = 0;
    load();
  });
  $("prev-page").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  $("next-page").addEventListener("click", () => { offset += PAGE; load(); });

  if (token) signedIn();
  else signOut("");
})();
