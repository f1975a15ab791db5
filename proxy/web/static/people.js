// MicroFi dashboard, people and access: the people page (role, disable,
// password reset, remove two-step), freezing and closing accounts, the
// audit trail, changing one's password, two-step sign-in (enrolment with a
// QR code, recovery codes, the tenant setting) and redeeming a reset code.
// dashboard.js owns sign-in; it tells this script through window events.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "microfi.token";
  let token = "";
  let user = null;
  let auditCursor = "";

  async function api(method, path, body) {
    const h = { Accept: "application/json" };
    if (token) h.Authorization = "Bearer " + token;
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    return { status: res.status, data };
  }

  function problem(data, fallback) {
    let msg = data.error || fallback;
    if (data.fields) msg += ": " + Object.entries(data.fields).map(([k, v]) => k.replace(/_/g, " ") + " " + v).join("; ");
    return msg;
  }

  function say(id, msg, ok) {
    const el = $(id);
    el.textContent = msg;
    el.className = msg ? "notice " + (ok ? "notice-ok" : "notice-error") : "";
  }

  function newToken(t) {
    token = t;
    sessionStorage.setItem(TOKEN_KEY, t);
    window.dispatchEvent(new CustomEvent("microfi:token", { detail: { token: t } }));
  }

  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  function button(text, onClick, cls) {
    const b = el("button", text, { type: "button", class: "btn btn-sm" + (cls ? " " + cls : "") });
    b.addEventListener("click", onClick);
    return b;
  }

  // ---- reset code (on the sign-in page) ----
  $("reset-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { token: $("reset-token").value.trim(), new_password: $("reset-password").value };
    const btn = $("reset-submit");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/auth/reset", body);
      if (r.status === 200) {
        ev.target.reset();
        say("reset-status", "Your password is set. Sign in with it above.", true);
      } else {
        say("reset-status", problem(r.data, "Could not set the password."), false);
      }
    } catch (e) {
      say("reset-status", "Network error: could not reach the server.", false);
    } finally {
      btn.disabled = false;
    }
  });

  // ---- people (admins) ----
  async function loadPeople() {
    const r = await api("GET", "/api/users?limit=200");
    if (r.status !== 200) return;
    const tbody = $("people-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const u of r.data.users || []) {
      const tr = el("tr", null, { "data-user-id": String(u.id) });
      tr.append(el("td", u.name), el("td", u.email));
      const roleCell = el("td");
      const role = el("select", null, { "aria-label": "Role of " + u.name, id: "role-" + u.id });
      for (const v of ["customer", "staff", "admin"]) {
        const o = el("option", v, { value: v });
        if (v === u.role) o.selected = true;
        role.appendChild(o);
      }
      role.addEventListener("change", () => patchUser(u, { role: role.value }));
      roleCell.appendChild(role);
      tr.append(roleCell, el("td", u.status), el("td", u.two_factor ? "on" : "off"));
      const actions = el("td");
      if (u.status === "active") {
        actions.appendChild(button("Disable", () => patchUser(u, { status: "disabled" }), "btn-danger"));
      } else {
        actions.appendChild(button("Enable", () => patchUser(u, { status: "active" })));
      }
      actions.appendChild(button("Reset password", () => resetPassword(u)));
      if (u.two_factor) actions.appendChild(button("Remove two-step", () => removeTwoFactor(u)));
      tr.appendChild(actions);
      tbody.appendChild(tr);
    }
  }

  async function patchUser(u, patch) {
    const r = await api("PATCH", "/api/users/" + u.id, patch);
    if (r.status === 200) {
      say("people-status", "Updated " + r.data.user.name + ": " + r.data.user.role + ", " + r.data.user.status + ".", true);
    } else {
      say("people-status", problem(r.data, "Could not update " + u.name + "."), false);
    }
    await loadPeople();
  }

  async function resetPassword(u) {
    const r = await api("POST", "/api/users/" + u.id + "/password-reset");
    if (r.status === 201) {
      const until = new Date(r.data.expires_at);
      say("people-status", "One-time reset code for " + u.name + " (shown once, valid until " + until.toLocaleTimeString() + "): " + r.data.token, true);
    } else {
      say("people-status", problem(r.data, "Could not reset the password."), false);
    }
  }

  async function removeTwoFactor(u) {
    const r = await api("DELETE", "/api/users/" + u.id + "/2fa");
    say("people-status", r.status === 200 ? "Removed two-step sign-in for " + u.name + "." : problem(r.data, "Could not remove it."), r.status === 200);
    await loadPeople();
  }

  // ---- accounts: freeze, unfreeze, close (staff and admins) ----
  async function loadAccountChoices() {
    const r = await api("GET", "/api/accounts?limit=200");
    if (r.status !== 200) return;
    const sel = $("account-admin-account");
    const prev = sel.value;
    sel.replaceChildren();
    for (const a of r.data.accounts || []) {
      sel.appendChild(el("option", "#" + a.id + " · " + a.type + " · " + a.status, { value: String(a.id) }));
    }
    if (prev) sel.value = prev;
  }

  async function setAccountStatus(status) {
    const id = $("account-admin-account").value;
    if (!id) return;
    const r = await api("PATCH", "/api/accounts/" + id, { status });
    if (r.status === 200) {
      say("account-admin-status", "Account #" + id + " is now " + r.data.account.status + ".", true);
      await loadAccountChoices();
    } else {
      say("account-admin-status", problem(r.data, "Could not change account #" + id + "."), false);
    }
  }
  $("account-freeze").addEventListener("click", () => setAccountStatus("frozen"));
  $("account-unfreeze").addEventListener("click", () => setAccountStatus("active"));
  $("account-close").addEventListener("click", () => setAccountStatus("closed"));

  // ---- audit trail (admins) ----
  async function loadAudit(more) {
    const params = new URLSearchParams({ limit: "20" });
    const action = $("audit-action").value;
    if (action) params.set("action", action);
    if (more && auditCursor) params.set("cursor", auditCursor);
    const r = await api("GET", "/api/audit?" + params);
    if (r.status !== 200) return;
    const tbody = $("audit-table").querySelector("tbody");
    if (!more) tbody.replaceChildren();
    for (const e of r.data.entries || []) {
      const tr = el("tr", null, { "data-audit-id": String(e.id) });
      const who = (e.user_id ? "user #" + e.user_id : "—") + " (" + e.role + ")" + (e.client_addr ? " from " + e.client_addr : "");
      const details = Object.entries(e.details || {}).map(([k, v]) => k + ": " + v).join(", ");
      tr.append(el("td", new Date(e.at).toLocaleString()), el("td", who), el("td", e.action),
        el("td", e.target_type ? e.target_type + " #" + e.target_id : ""), el("td", details));
      tbody.appendChild(tr);
    }
    auditCursor = r.data.next_cursor || "";
    $("audit-more").hidden = !auditCursor;
  }
  $("audit-action").addEventListener("change", () => loadAudit(false));
  $("audit-more").addEventListener("click", () => loadAudit(true));

  // ---- change password ----
  $("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { current_password: $("password-current").value, new_password: $("password-new").value };
    const btn = $("password-submit");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/auth/password", body);
      if (r.status === 200) {
        newToken(r.data.token);
        ev.target.reset();
        say("password-status", "Password changed. Your other sessions are signed out.", true);
      } else {
        say("password-status", problem(r.data, "Could not change the password."), false);
      }
    } catch (e) {
      say("password-status", "Network error: could not reach the server.", false);
    } finally {
      btn.disabled = false;
    }
  });

  // ---- two-step sign-in ----
  // renderTwoFactor fills slot with the enrolment flow; done runs after
  // the recovery codes were acknowledged.
  function renderTwoFactor(slot, enabled, done) {
    slot.replaceChildren();
    const status = el("div", null, { role: "status", "aria-live": "polite", id: slot.id + "-status" });
    slot.appendChild(status);
    if (enabled) {
      slot.appendChild(el("p", "Two-step sign-in is on for your account."));
      return;
    }
    slot.appendChild(el("p", "Sign in with a code from an authenticator app as well as your password."));
    const start = button("Set up two-step sign-in", async () => {
      start.disabled = true;
      const r = await api("POST", "/api/auth/2fa/enrol");
      if (r.status !== 200) {
        status.textContent = problem(r.data, "Could not start the set-up.");
        status.className = "notice notice-error";
        start.disabled = false;
        return;
      }
      start.remove();
      const img = el("img", null, { src: "data:image/png;base64," + r.data.qr_png, alt: "QR code to scan with your authenticator app", width: "200", height: "200", id: slot.id + "-qr" });
      const secret = el("p", null, { class: "muted" });
      secret.append("Or type this key: ", el("code", r.data.secret, { id: slot.id + "-secret" }));
      const form = el("form", null, { novalidate: "", id: slot.id + "-form" });
      const field = el("div", null, { class: "field" });
      const inputId = slot.id + "-code";
      field.append(el("label", "Code from the app", { for: inputId }),
        el("input", null, { id: inputId, type: "text", inputmode: "numeric", autocomplete: "one-time-code", required: "" }));
      form.append(field, el("button", "Turn on", { type: "submit", class: "btn btn-primary", id: slot.id + "-confirm" }));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const c = await api("POST", "/api/auth/2fa/confirm", { code: $(inputId).value.trim() });
        if (c.status !== 200) {
          status.textContent = problem(c.data, "That code did not work.");
          status.className = "notice notice-error";
          return;
        }
        newToken(c.data.token);
        slot.replaceChildren(status);
        status.textContent = "Two-step sign-in is on. Keep these recovery codes somewhere safe: each works once, and they are shown only now.";
        status.className = "notice notice-ok";
        const list = el("ul", null, { id: slot.id + "-recovery", class: "recovery-codes" });
        for (const code of c.data.recovery_codes) list.appendChild(el("li", null)).appendChild(el("code", code));
        slot.append(list, button("I have saved them", done, "btn-primary"));
      });
      slot.append(img, secret, form);
      $(inputId).focus();
    });
    slot.appendChild(start);
  }

  async function loadSecurity() {
    const staff = user && (user.role === "staff" || user.role === "admin");
    $("twofactor-card").hidden = !staff;
    if (!staff) return;
    const me = await api("GET", "/api/me");
    const enabled = me.status === 200 && me.data.user && me.data.user.two_factor;
    renderTwoFactor($("twofactor-slot"), enabled, () => loadSecurity());
    const admin = user.role === "admin";
    $("require-2fa-box").hidden = !admin;
    if (admin) {
      const s = await api("GET", "/api/settings");
      if (s.status === 200) $("require-2fa").checked = !!s.data.settings.require_2fa;
    }
  }
  $("require-2fa").addEventListener("change", async (ev) => {
    const want = ev.target.checked;
    const r = await api("PATCH", "/api/settings", { require_2fa: want });
    if (r.status === 200) {
      say("settings-status", want ? "Staff and administrators now need two-step sign-in." : "Two-step sign-in is optional again.", true);
    } else {
      ev.target.checked = !want;
      say("settings-status", problem(r.data, "Could not change the setting."), false);
    }
  });

  // ---- wiring ----
  function onSignedIn(detail) {
    token = detail.token;
    user = detail.user;
    if (detail.enrol) {
      $("enrol-section").hidden = false;
      renderTwoFactor($("enrol-slot"), false, () => {
        sessionStorage.removeItem("microfi.enrol");
        location.reload();
      });
      return;
    }
    $("enrol-section").hidden = true;
    const role = user ? user.role : "";
    const staff = role === "staff" || role === "admin";
    $("security-section").hidden = !user;
    $("account-admin-section").hidden = !staff;
    $("people-section").hidden = role !== "admin";
    $("audit-section").hidden = role !== "admin";
    if (staff) loadAccountChoices();
    if (role === "admin") {
      loadPeople();
      loadAudit(false);
    }
    if (user) loadSecurity();
  }
  window.addEventListener("microfi:signedin", (ev) => onSignedIn(ev.detail));
  window.addEventListener("microfi:signedout", () => {
    token = "";
    user = null;
    for (const id of ["enrol-section", "security-section", "account-admin-section", "people-section", "audit-section"]) $(id).hidden = true;
  });
  window.addEventListener("microfi:token", (ev) => { token = ev.detail.token; });

  // dashboard.js (loaded first) signs a stored session in before this
  // script listens: pick it up here.
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) {
    let u = null;
    try { u = JSON.parse(sessionStorage.getItem("microfi.user") || "null"); } catch (e) { u = null; }
    onSignedIn({ token: stored, user: u, enrol: !!sessionStorage.getItem("microfi.enrol") });
  }
})();
