// MicroFi marketing page: demo creation and self-service signup.
// Talks only to this origin's /api/public/* endpoints.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const rootDomain = location.hostname.replace(/^www\./, "");

  function regionName(code) {
    try {
      return new Intl.DisplayNames(["en"], { type: "region" }).of(code) || code;
    } catch (e) {
      return code;
    }
  }

  async function postJSON(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await res.json();
    } catch (e) {
      data = { error: "Unexpected answer from the server (" + res.status + ")" };
    }
    return { status: res.status, data, retryAfter: res.headers.get("Retry-After") };
  }

  function setText(id, text) {
    $(id).textContent = text;
  }

  // ---- static text that depends on the root domain ----
  setText("signup-suffix", "." + rootDomain);
  document.querySelectorAll(".root-domain-example").forEach((el) => {
    el.textContent = "yourname." + rootDomain;
  });

  // ---- countries ----
  async function loadCountries() {
    const select = $("signup-country");
    try {
      const res = await fetch("/api/public/countries", { headers: { Accept: "application/json" } });
      const data = await res.json();
      const list = (data.countries || []).map((c) => ({ code: c.code, label: regionName(c.code) + " (" + c.currency + ")" }));
      list.sort((a, b) => a.label.localeCompare(b.label));
      for (const c of list) {
        const opt = document.createElement("option");
        opt.value = c.code;
        opt.textContent = c.label;
        select.appendChild(opt);
      }
    } catch (e) {
      setFieldError("country", "Could not load the list of countries. Reload the page to try again.");
    }
  }

  // ---- demo ----
  const demoButton = $("demo-button");
  demoButton.addEventListener("click", async () => {
    demoButton.disabled = true;
    demoButton.setAttribute("aria-busy", "true");
    setText("demo-status", "Creating your demo institution…");
    $("demo-status").className = "panel";
    try {
      const { status, data, retryAfter } = await postJSON("/api/public/demo", {});
      if (status !== 201) {
        let msg = data.error || "Could not create a demo.";
        if (status === 429 && retryAfter) msg += " Please try again in " + retryAfter + " seconds.";
        setText("demo-status", msg);
        $("demo-status").className = "panel notice notice-error";
        return;
      }
      setText("demo-status", "");
      setText("demo-url", data.url);
      setText("demo-email", data.login.email);
      setText("demo-password", data.login.password);
      const expires = new Date(data.expires_at);
      if (!isNaN(expires)) setText("demo-expires", "at " + expires.toLocaleString());
      const link = $("demo-open");
      link.href = data.url + "/#" + new URLSearchParams({ email: data.login.email, password: data.login.password }).toString();
      $("demo-result").hidden = false;
      $("demo-result").focus();
    } catch (e) {
      setText("demo-status", "Network error: could not reach the server.");
      $("demo-status").className = "panel notice notice-error";
    } finally {
      demoButton.disabled = false;
      demoButton.removeAttribute("aria-busy");
    }
  });

  // ---- signup ----
  const form = $("signup-form");
  const fields = ["name", "country", "email", "password", "subdomain"];

  const fieldLabels = { name: "Institution name", country: "Country", email: "E-mail", password: "Password", subdomain: "Web address" };

  // The API words field errors as predicates ("is reserved"); the form
  // shows them as sentences ("Web address is reserved.").
  function sentence(field, msg) {
    if (!msg) return "";
    let s = /^[a-z]/.test(msg) ? fieldLabels[field] + " " + msg : msg;
    return /[.!?]$/.test(s) ? s : s + ".";
  }

  function setFieldError(field, msg) {
    const input = $("signup-" + field);
    setText("signup-" + field + "-error", sentence(field, msg));
    if (msg) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function clearErrors() {
    fields.forEach((f) => setFieldError(f, ""));
    $("signup-errors").hidden = true;
    setText("signup-errors", "");
  }

  function showSummary(msg) {
    const box = $("signup-errors");
    box.textContent = msg;
    box.hidden = false;
    box.focus();
  }

  $("signup-subdomain").addEventListener("input", (ev) => {
    const v = ev.target.value;
    const lower = v.toLowerCase();
    if (v !== lower) ev.target.value = lower;
  });

  // Quick checks before the round trip; the server repeats every rule.
  function localErrors(body) {
    const errs = {};
    if (!body.name.trim()) errs.name = "Enter your institution's name.";
    if (!body.country) errs.country = "Choose a country.";
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(body.email)) errs.email = "Enter a valid e-mail address.";
    if (body.password.length < 10) errs.password = "Use at least 10 characters.";
    else if (!/[A-Za-z]/.test(body.password) || !/[0-9]/.test(body.password)) errs.password = "Use letters and at least one digit.";
    if (body.subdomain && !/^[a-z0-9]([a-z0-9-]{1,38})[a-z0-9]$/.test(body.subdomain)) {
      errs.subdomain = "Use 3–40 lowercase letters, digits or hyphens (not at the start or end).";
    }
    return errs;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const body = {
      name: $("signup-name").value,
      country: $("signup-country").value,
      email: $("signup-email").value.trim(),
      password: $("signup-password").value,
    };
    const sub = $("signup-subdomain").value.trim();
    if (sub) body.subdomain = sub;
    // A visitor who came from a demo's "Sign up" link: attribute the
    // signup to that demo (the conversion figures; no personal data).
    const fromDemo = new URLSearchParams(location.search).get("from_demo");
    if (fromDemo) body.from_demo = fromDemo;

    const local = localErrors(body);
    if (Object.keys(local).length) {
      for (const [f, m] of Object.entries(local)) setFieldError(f, m);
      showSummary("Please correct the highlighted fields.");
      $("signup-" + Object.keys(local)[0]).focus();
      return;
    }

    const submit = $("signup-submit");
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      const { status, data, retryAfter } = await postJSON("/api/public/signup", body);
      if (status === 201) {
        form.hidden = true;
        const box = $("signup-result");
        box.hidden = false;
        box.textContent = "Your platform " + data.subdomain + " is ready. Taking you there…";
        // The answer's token signs the new administrator in on arrival.
        const target = (data.setup_url || data.setupUrl) + "#" + new URLSearchParams({ token: data.token }).toString();
        setTimeout(() => location.assign(target), 600);
        return;
      }
      if (status === 409) {
        setFieldError("subdomain", "This web address is already taken. Choose another one.");
        showSummary("Subdomain taken: " + (body.subdomain || "the address made from your institution's name") + " belongs to another institution.");
        $("signup-subdomain").focus();
        return;
      }
      if (data.fields) {
        let first = null;
        for (const [f, m] of Object.entries(data.fields)) {
          if (fields.includes(f)) {
            setFieldError(f, m);
            first = first || f;
          }
        }
        showSummary("Please correct the highlighted fields.");
        if (first) $("signup-" + first).focus();
        return;
      }
      let msg = data.error || "Signup failed.";
      if (status === 429 && retryAfter) msg += " Please try again in " + retryAfter + " seconds.";
      showSummary(msg);
    } catch (e) {
      showSummary("Network error: could not reach the server.");
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  });

  $("signup-link").addEventListener("click", () => {
    setTimeout(() => $("signup-name").focus({ preventScroll: true }), 300);
  });

  loadCountries();
})();
