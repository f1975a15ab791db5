// MicroFi tenant dashboard: sign in, accounts, recent transactions and
// deposits, all through this tenant host's /api/* endpoints.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "microfi.token";
  const USER_KEY = "microfi.user";
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let user = null;
  try { user = JSON.parse(sessionStorage.getItem(USER_KEY) || "null"); } catch (e) { user = null; }
  let accounts = [];
  let users = [];
  const canManage = () => !!user && (user.role === "admin" || user.role === "staff");

  // ---- money: integers in minor units, formatted per currency ----
  // The server says how many minor-unit digits the tenant's currency has
  // (GET /api/tenant: 0 for UGX, XOF, …); Intl is the fallback.
  const serverDigits = {};
  function fractionDigits(currency) {
    if (currency in serverDigits) return serverDigits[currency];
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch (e) {
      return 2;
    }
  }
  function formatMoney(minor, currency) {
    const digits = fractionDigits(currency);
    const neg = minor < 0;
    let s = String(Math.abs(minor)).padStart(digits + 1, "0");
    const whole = digits ? s.slice(0, -digits) : s;
    const frac = digits ? s.slice(-digits) : "";
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + currency + " " + grouped + (digits ? "." + frac : "");
  }
  // parseMinor turns "1,250.5" into 125050 (for 2 digits) without floats.
  function parseMinor(text, currency) {
    const digits = fractionDigits(currency);
    const s = text.replace(/[,\s]/g, "");
    const m = digits ? s.match(new RegExp("^(\\d+)(?:\\.(\\d{1," + digits + "}))?$")) : s.match(/^(\d+)$/);
    if (!m) return null;
    const frac = (m[2] || "").padEnd(digits, "0");
    const n = Number(m[1] + frac);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  }

  function randomKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: "application/json" }, headers || {});
    if (token) h.Authorization = "Bearer " + token;
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if ((res.status === 401 && path !== "/api/auth/login")) {
      signOut("Your session has ended. Please sign in again.");
    }
    return { status: res.status, data };
  }

  function show(el, on) { el.hidden = !on; }

  // amountExample is a sample amount written the currency's way.
  function amountExample(currency) {
    const d = fractionDigits(currency);
    return d ? "250." + "50".padEnd(d, "0").slice(0, d) : "250";
  }
  function amountProblem(currency) {
    return fractionDigits(currency)
      ? "Enter a positive amount with at most " + fractionDigits(currency) + " decimals, e.g. " + amountExample(currency) + "."
      : "Enter a positive whole amount (" + currency + " has no decimals), e.g. " + amountExample(currency) + ".";
  }
  // setAmountHints writes the amount inputs' hints for the currency.
  function setAmountHints(currency) {
    for (const id of ["deposit", "transfer"]) {
      const input = $(id + "-amount");
      if (!input) continue;
      input.placeholder = fractionDigits(currency) ? "100." + "0".repeat(fractionDigits(currency)) : "100";
      input.inputMode = fractionDigits(currency) ? "decimal" : "numeric";
      $(id + "-amount-hint").textContent = "In " + currency + ", e.g. " + amountExample(currency);
    }
  }

  // ---- the tenant, known before sign-in (name, currency, demo) ----
  let tenantInfo = null;
  async function loadTenant() {
    try {
      const res = await fetch("/api/tenant", { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      tenantInfo = await res.json();
    } catch (e) {
      return;
    }
    if (tenantInfo.name) {
      $("tenant-name").textContent = tenantInfo.name;
      document.title = tenantInfo.name + " · MicroFi";
    }
    if (tenantInfo.currency) {
      serverDigits[tenantInfo.currency] = tenantInfo.currency_digits;
      setAmountHints(tenantInfo.currency);
    }
    if (tenantInfo.demo && tenantInfo.signup_url) {
      const a = $("demo-signup");
      a.href = tenantInfo.signup_url;
      show(a, true);
    }
  }

  function showError(id, msg) {
    const el = $(id);
    el.textContent = msg || "";
    el.hidden = !msg;
  }

  // ---- session ----
  function signOut(msg) {
    token = "";
    user = null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
    show($("app-section"), false);
    show($("user-box"), false);
    show($("login-section"), true);
    showError("login-error", msg || "");
    sessionStorage.removeItem("microfi.enrol");
    window.dispatchEvent(new CustomEvent("microfi:signedout"));
  }

  // people.js hands over a new token (after a password change or enabling
  // two-step sign-in, the old ones are revoked).
  window.addEventListener("microfi:token", (ev) => {
    token = ev.detail.token;
    sessionStorage.setItem(TOKEN_KEY, token);
  });

  function signedIn() {
    show($("login-section"), false);
    if (sessionStorage.getItem("microfi.enrol")) {
      // An enrolment-only token: people.js shows the set-up, nothing else.
      show($("user-box"), true);
      window.dispatchEvent(new CustomEvent("microfi:signedin", { detail: { user, token, enrol: true } }));
      return;
    }
    show($("welcome"), false);
    show($("app-section"), true);
    show($("user-box"), true);
    $("user-label").textContent = user ? (user.email || user.name || "") + (user.role ? " · " + user.role : "") : "";
    show($("manage-section"), canManage());
    show($("user-card"), !!user && user.role === "admin");
    loadData();
    window.dispatchEvent(new CustomEvent("microfi:signedin", { detail: { user, token, enrol: false } }));
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("login-error", "");
    const email = $("login-email").value.trim();
    const password = $("login-password").value;
    if (!email || !password) {
      showError("login-error", "Enter your e-mail and password.");
      return;
    }
    const btn = $("login-submit");
    btn.disabled = true;
    try {
      const body = { email, password };
      const code = $("login-code").value.replace(/\s/g, "");
      if (code) body[/^\d{6}$/.test(code) ? "code" : "recovery_code"] = code;
      const { status, data } = await api("POST", "/api/auth/login", body);
      if (status === 401 && data.error === "Second factor required") {
        show($("login-code-field"), true);
        showError("login-error", "Enter the code from your authenticator app.");
        $("login-code").focus();
        return;
      }
      if (status !== 200 || !data.token) {
        showError("login-error", data.error || "Sign-in failed.");
        return;
      }
      $("login-code").value = "";
      show($("login-code-field"), false);
      if (data.second_factor_enrolment_required) sessionStorage.setItem("microfi.enrol", "1");
      else sessionStorage.removeItem("microfi.enrol");
      token = data.token;
      user = data.user || null;
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(USER_KEY, JSON.stringify(user));
      $("login-password").value = "";
      signedIn();
    } catch (e) {
      showError("login-error", "Network error: could not reach the server.");
    } finally {
      btn.disabled = false;
    }
  });

  $("logout-button").addEventListener("click", async () => {
    // Revoke the token on the server too, so a copy of it is useless.
    if (token) {
      try { await api("POST", "/api/auth/logout"); } catch (e) { /* signed out locally anyway */ }
    }
    signOut("");
  });
  $("refresh-button").addEventListener("click", () => loadData());

  // ---- data ----
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function renderAccounts() {
    const tbody = $("accounts-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const a of accounts) {
      const tr = document.createElement("tr");
      tr.dataset.accountId = a.id;
      cell(tr, "#" + a.id);
      // A customer sees only her own accounts and cannot list users.
      const owner = users.find((u) => u.id === a.user_id) || (user && user.id === a.user_id ? user : null);
      cell(tr, owner ? owner.name : "User #" + a.user_id);
      cell(tr, a.type);
      cell(tr, a.status);
      cell(tr, formatMoney(a.balance, a.currency), "num");
      tbody.appendChild(tr);
    }
    show($("accounts-empty"), accounts.length === 0);

    const totals = {};
    for (const a of accounts) totals[a.currency] = (totals[a.currency] || 0) + a.balance;
    const stats = $("stats");
    stats.replaceChildren();
    const addStat = (label, value) => {
      const d = document.createElement("div");
      d.className = "stat";
      const l = document.createElement("div");
      l.className = "label";
      l.textContent = label;
      const v = document.createElement("div");
      v.className = "value";
      v.textContent = value;
      d.append(l, v);
      stats.appendChild(d);
    };
    addStat("Accounts", String(accounts.length));
    for (const [cur, sum] of Object.entries(totals)) addStat("Total balance (" + cur + ")", formatMoney(sum, cur));
    addStat(canManage() ? "People" : "Signed in as", canManage() ? String(users.length) : (user && user.name) || "");

    const sel = $("deposit-account");
    const prev = sel.value;
    sel.replaceChildren();
    for (const a of accounts.filter((x) => x.status === "active")) {
      const o = document.createElement("option");
      o.value = a.id;
      o.textContent = "#" + a.id + " · " + a.type + " · " + formatMoney(a.balance, a.currency);
      sel.appendChild(o);
    }
    if (prev) sel.value = prev;
    show($("deposit-section"), canManage() && sel.options.length > 0);

    // Transfers: from one of the signed-in customer's own active accounts.
    const from = $("transfer-from");
    const prevFrom = from.value;
    from.replaceChildren();
    for (const a of accounts.filter((x) => x.status === "active" && user && x.user_id === user.id)) {
      const o = document.createElement("option");
      o.value = a.id;
      o.textContent = "#" + a.id + " · " + a.type + " · " + formatMoney(a.balance, a.currency);
      from.appendChild(o);
    }
    if (prevFrom) from.value = prevFrom;
    show($("transfer-section"), !!user && user.role === "customer" && from.options.length > 0);
  }

  function renderUsers() {
    const sel = $("account-user");
    const prev = sel.value;
    sel.replaceChildren();
    for (const u of users) {
      const o = document.createElement("option");
      o.value = u.id;
      o.textContent = u.name + " · " + u.email + " (" + u.role + ")";
      sel.appendChild(o);
    }
    if (prev) sel.value = prev;
  }

  async function loadUsers() {
    if (!canManage()) return;
    const r = await api("GET", "/api/users?limit=500");
    if (r.status === 200) {
      users = r.data.users || [];
      renderUsers();
    }
  }

  function renderTransactions(txs) {
    const tbody = $("tx-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const t of txs) {
      const tr = document.createElement("tr");
      const when = t.created_at ? new Date(t.created_at) : null;
      cell(tr, when && !isNaN(when) ? when.toLocaleString() : (t.created_at || ""));
      cell(tr, t.type);
      cell(tr, "#" + t.account_id + (t.to_account_id ? " → #" + t.to_account_id : ""));
      cell(tr, t.description || "");
      cell(tr, formatMoney(t.amount, t.currency), "num");
      tbody.appendChild(tr);
    }
    show($("tx-empty"), txs.length === 0);
  }

  async function loadTransactions() {
    let { status, data } = await api("GET", "/api/transactions?limit=10");
    if (status === 200) return data.transactions || [];
    // Some deployments require an account: gather the newest per account.
    const all = [];
    for (const a of accounts.slice(0, 10)) {
      const r = await api("GET", "/api/transactions?limit=10&account_id=" + encodeURIComponent(a.id));
      if (r.status === 200) all.push(...(r.data.transactions || []));
    }
    const seen = new Set();
    return all
      .filter((t) => !seen.has(t.id) && seen.add(t.id))
      .sort((a, b) => b.id - a.id)
      .slice(0, 10);
  }

  // loadDomain tells an institution's admin how its custom domain stands:
  // the DNS record to create and, until it is active, its certificate state.
  async function loadDomain() {
    const el = $("domain-notice");
    const r = await api("GET", "/api/domain");
    const c = r.status === 200 && r.data.custom_domain_tls;
    if (!c || !r.data.custom_domain || c.state === "active") {
      show(el, false);
      return;
    }
    const d = c.dns;
    const what = c.state === "failed" ? "Its certificate could not be issued yet" : "Its certificate is pending";
    el.textContent = "Custom domain " + r.data.custom_domain + ": " + what +
      (c.last_error ? " (last check: " + c.last_error + ")" : "") + ". " +
      (d ? "Create the DNS record " + d.name + " " + d.type + " " + d.value + ", or " + d.alternative + "." : "");
    el.className = "notice " + (c.state === "failed" ? "notice-error" : "notice-ok");
    show(el, true);
  }

  async function loadData() {
    showError("app-error", "");
    try {
      const me = await api("GET", "/api/me");
      if (me.status === 200) {
        if (me.data.user && (!user || user.id !== me.data.user.id)) {
          user = me.data.user;
          sessionStorage.setItem(USER_KEY, JSON.stringify(user));
          $("user-label").textContent = (user.email || user.name || "") + (user.role ? " · " + user.role : "");
          show($("manage-section"), canManage());
          show($("user-card"), user.role === "admin");
        }
        const t = me.data.tenant;
        if (t && t.name) {
          $("tenant-name").textContent = t.name;
          document.title = t.name + " · MicroFi";
        }
      } else if (me.status !== 401) {
        showError("app-error", me.data.error || "Could not load your profile.");
        if (me.status >= 400) return;
      }
      if (!token) return;
      const acc = await api("GET", "/api/accounts");
      if (acc.status !== 200) {
        if (acc.status !== 401) showError("app-error", acc.data.error || "Could not load accounts.");
        return;
      }
      accounts = acc.data.accounts || [];
      if (user && user.role === "admin") await loadDomain();
      await loadUsers();
      renderAccounts();
      renderTransactions(await loadTransactions());
    } catch (e) {
      showError("app-error", "Network error: could not reach the server.");
    }
  }

  $("deposit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = $("deposit-status");
    status.className = "";
    const id = Number($("deposit-account").value);
    const account = accounts.find((a) => a.id === id);
    if (!account) {
      status.textContent = "Choose an account.";
      status.className = "notice notice-error";
      return;
    }
    const amount = parseMinor($("deposit-amount").value, account.currency);
    if (amount === null) {
      status.textContent = amountProblem(account.currency);
      status.className = "notice notice-error";
      $("deposit-amount").focus();
      return;
    }
    const body = { type: "deposit", account_id: id, amount };
    const desc = $("deposit-description").value.trim();
    if (desc) body.description = desc;
    const btn = $("deposit-submit");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/transactions", body, { "Idempotency-Key": randomKey() });
      if (r.status === 201) {
        status.textContent = "Deposited " + formatMoney(amount, account.currency) + " to account #" + id + ".";
        status.className = "notice notice-ok";
        $("deposit-amount").value = "";
        $("deposit-description").value = "";
        await loadData();
      } else {
        status.textContent = r.data.error || "Deposit failed.";
        status.className = "notice notice-error";
      }
    } catch (e) {
      status.textContent = "Network error: could not reach the server.";
      status.className = "notice notice-error";
    } finally {
      btn.disabled = false;
    }
  });

  $("transfer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = $("transfer-status");
    status.className = "";
    const id = Number($("transfer-from").value);
    const account = accounts.find((a) => a.id === id);
    const to = Number($("transfer-to").value);
    if (!account) {
      status.textContent = "Choose one of your accounts.";
      status.className = "notice notice-error";
      return;
    }
    if (!Number.isSafeInteger(to) || to <= 0 || to === id) {
      status.textContent = "Enter the number of the account to pay into (not the same account).";
      status.className = "notice notice-error";
      $("transfer-to").focus();
      return;
    }
    const amount = parseMinor($("transfer-amount").value, account.currency);
    if (amount === null) {
      status.textContent = amountProblem(account.currency);
      status.className = "notice notice-error";
      $("transfer-amount").focus();
      return;
    }
    const body = { type: "transfer", account_id: id, to_account_id: to, amount };
    const desc = $("transfer-description").value.trim();
    if (desc) body.description = desc;
    const btn = $("transfer-submit");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/transactions", body, { "Idempotency-Key": randomKey() });
      if (r.status === 201) {
        status.textContent = "Sent " + formatMoney(amount, account.currency) + " from account #" + id + " to account #" + to + ".";
        status.className = "notice notice-ok";
        $("transfer-amount").value = "";
        $("transfer-description").value = "";
        await loadData();
      } else {
        status.textContent = problem(r.data, "Transfer failed.");
        status.className = "notice notice-error";
      }
    } catch (e) {
      status.textContent = "Network error: could not reach the server.";
      status.className = "notice notice-error";
    } finally {
      btn.disabled = false;
    }
  });

  function problem(data, fallback) {
    let msg = data.error || fallback;
    if (data.fields) msg += ": " + Object.entries(data.fields).map(([k, v]) => k + " " + v).join("; ");
    return msg;
  }

  function say(id, msg, ok) {
    const el = $(id);
    el.textContent = msg;
    el.className = "notice " + (ok ? "notice-ok" : "notice-error");
  }

  $("user-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      name: $("user-name").value.trim(),
      email: $("user-email").value.trim(),
      password: $("user-password").value,
      role: $("user-role").value,
    };
    const btn = $("user-submit");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/users", body);
      if (r.status === 201) {
        ev.target.reset();
        await loadUsers();
        $("account-user").value = String(r.data.user.id);
        // Announce only once the new person is selectable as an owner.
        say("user-status", "Added " + r.data.user.name + " (" + r.data.user.role + ").", true);
      } else {
        say("user-status", problem(r.data, "Could not add the person."), false);
      }
    } catch (e) {
      say("user-status", "Network error: could not reach the server.", false);
    } finally {
      btn.disabled = false;
    }
  });

  $("account-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const userId = Number($("account-user").value);
    if (!userId) {
      say("account-status", "Add a person first, then open their account.", false);
      return;
    }
    const btn = $("account-submit");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/accounts", { user_id: userId, type: $("account-type").value });
      if (r.status === 201) {
        const owner = users.find((u) => u.id === userId);
        await loadData();
        say("account-status", "Opened " + r.data.account.type + " account #" + r.data.account.id + (owner ? " for " + owner.name : "") + ".", true);
      } else {
        say("account-status", problem(r.data, "Could not open the account."), false);
      }
    } catch (e) {
      say("account-status", "Network error: could not reach the server.", false);
    } finally {
      btn.disabled = false;
    }
  });

  // ---- start ----
  loadTenant();
  const hash = new URLSearchParams(location.hash.slice(1));
  // A new signup arrives with the token the signup answer carried, so it
  // is signed in without typing the password a second time.
  if (hash.get("token")) {
    token = hash.get("token");
    user = null;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.removeItem(USER_KEY);
  }
  if (hash.get("email")) $("login-email").value = hash.get("email");
  if (hash.get("password")) $("login-password").value = hash.get("password");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  const welcome = location.pathname === "/setup";
  if (welcome) show($("welcome"), true);

  if (token) {
    signedIn();
    if (welcome && hash.get("token")) {
      $("welcome-text").textContent = "Your institution is ready and you are signed in as its administrator. Add your staff and customers below.";
      show($("welcome"), true);
    }
  } else {
    show($("login-section"), true);
    (hash.get("email") ? $("login-password") : $("login-email")).focus();
  }
})();
