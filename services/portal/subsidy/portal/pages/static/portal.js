// What every page of the portal shares: the session, calls to the HTTP/JSON API, labels,
// money in fen shown as ¥ with thousands, and times in Beijing time.
"use strict";

const Portal = (() => {
  const KEY = "subsidy.session";

  function session() {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    location.href = "/";
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
      return `${ERRORS[this.code] || "请求失败"}（${this.code}）：${this.message}` + (fields ? `\n${fields}` : "");
    }
  }

  const ERRORS = {
    unauthenticated: "登录已失效，请重新登录",
    permission_denied: "无权进行此操作",
    invalid_argument: "填写有误",
    not_found: "未找到",
    unavailable: "服务暂不可用，请稍后再试",
  };

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

  let labels = null;
  async function loadLabels() {
    if (!labels) labels = await (await fetch("/site.json")).json();
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
      `<h1>${esc(title)}</h1><span class="who">${esc(p.name)} · ${esc(bound)} ` +
      `<button type="button" class="secondary" id="sign-out">退出</button></span>`;
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
