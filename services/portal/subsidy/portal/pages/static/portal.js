// What every page of the portal shares: the session, calls to the HTTP/JSON API, labels in the
// page's language (I18n), money in fen shown as ¥ with thousands, and times in Beijing time.
"use strict";

const Portal = (() => {
  const KEY = "subsidy.session";

  function session() {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    location.href = I18n.href("/");
  }

  class ApiError extends Error {
    constructor(body, status) {
      super(body.message || body.code || `HTTP ${status}`);
      this.code = body.code || "unknown";
      // google.rpc.BadRequest details come with their JSON form in `debug`.
      this.fields = (body.details || []).flatMap((d) => (d.debug && d.debug.fieldViolations) || []);
    }
    explain() {
      const fields = this.fields.map((v) => `· ${v.field}: ${v.description}`).join("\n");
      const known = ["unauthenticated", "permission_denied", "invalid_argument", "not_found", "unavailable"];
      const what = I18n.t(known.includes(this.code) ? `error.${this.code}` : "error.failed");
      return I18n.t("error.line", { what, code: this.code, message: this.message }) + (fields ? `\n${fields}` : "");
    }
  }

  async function call(service, method, body, { anonymous = false } = {}) {
    const headers = { "content-type": "application/json", "connect-protocol-version": "1" };
    const s = session();
    if (s && !anonymous) headers.authorization = `Bearer ${s.token}`;
    const response = await fetch(`/subsidy.api.v1.${service}/${method}`, {
      method: "POST", headers, body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const err = new ApiError(data, response.status);
      if (err.code === "unauthenticated" && !anonymous) setTimeout(signOut, 1500);
      throw err;
    }
    return data;
  }

  // Money arrives as integer fen in a string (proto3 JSON's int64): formatted exactly, no float.
  function yuan(fen) {
    let n = BigInt(fen || 0);
    const sign = n < 0n ? "-" : "";
    if (n < 0n) n = -n;
    const whole = (n / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const cents = (n % 100n).toString().padStart(2, "0");
    return `${sign}¥${whole}.${cents}`;
  }

  const BEIJING = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });

  function beijing(iso) {
    return iso ? BEIJING.format(new Date(iso)).replace(/\//g, "-") : "";
  }

  function todayBeijing() {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
    return parts; // YYYY-MM-DD
  }

  function esc(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // /site.json has the labels in each language; a page uses its own language's.
  let labels = null;
  async function loadLabels() {
    if (!labels) {
      const facts = await (await fetch("/site.json")).json();
      labels = { source: facts.source, ...facts[I18n.lang] };
    }
    return labels;
  }

  function statusBadge(status) {
    const cls = { PAID: "ok", PARTIALLY_PAID: "warn", DENIED: "bad", REVOKED: "bad", PENDING_REVIEW: "warn" }[status] || "";
    return `<span class="badge ${cls}">${esc((labels && labels.status[status]) || status)}</span>`;
  }

  function header(title) {
    const s = session();
    if (!s) { location.href = "/"; return null; }
    const p = s.principal;
    const bound = p.enterpriseId || p.bureau || "";
    document.querySelector("header").innerHTML =
      `<h1>${esc(title)}</h1><span class="who"><span class="data">${esc(p.name)} · ${esc(bound)}</span> ` +
      `${I18n.switcher()} <button type="button" class="secondary" id="sign-out">${esc(I18n.t("common.signOut"))}</button></span>`;
    document.getElementById("sign-out").addEventListener("click", signOut);
    return p;
  }

  // A portal event: a fresh id, the portal as its source, today's date in Beijing.
  function event(enterprise, payload) {
    return {
      event: {
        eventId: `portal-${crypto.randomUUID()}`, source: labels.source,
        enterpriseId: enterprise.id, enterpriseName: enterprise.name, district: enterprise.district,
        occurredOn: todayBeijing(), ...payload,
      },
    };
  }

  return { session, signOut, call, yuan, beijing, esc, loadLabels, statusBadge, header, event, KEY, ApiError };
})();
