// 审核工作台: a bureau's queues with age and deadline, review and appeal decisions, and an
// enterprise search that drills down to its statement. Words from I18n and /site.json; names,
// clauses and bureaus are data (marked .data).
"use strict";

(async () => {
  const P = Portal, t = I18n.t;
  const me = P.header(t("wb.heading"));
  if (!me) return;
  const labels = await P.loadLabels();
  const $ = (id) => document.getElementById(id);
  const QUEUES = ["REVIEW", "APPEALS", "REFERRED", "OBJECTIONS", "RETURNED_PAYMENTS"];
  const data = (text) => `<span class="data">${P.esc(text)}</span>`;
  let queue = "REVIEW", pageToken = "", cases = [], deciding = null;
  // A reviewer or approver works its own bureau's queues; an auditor looks at any bureau's.
  let bureau = me.bureau || "";
  if (!bureau) {
    const rules = (await P.call("CatalogService", "ListRules", {}, { anonymous: true })).rules;
    const bureaus = [...new Set(rules.flatMap((r) => r.responsibleUnits || []))].sort();
    bureau = bureaus[0] || "";
    $("bureau-choice").hidden = false;
    $("bureau").innerHTML = bureaus.map((b) => `<option>${P.esc(b)}</option>`).join("");
    $("bureau").addEventListener("change", () => { bureau = $("bureau").value; showBureau(); refresh(); });
  }
  function showBureau() { $("bureau-title").innerHTML = `${data(bureau)} · ${t("wb.todo")}`; }
  showBureau();

  // A yuan amount typed by a person, as integer fen in a string: no float on the way.
  function fen(text) {
    const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim());
    if (!m) throw new Error(t("wb.amountFormat"));
    return (BigInt(m[1]) * 100n + BigInt((m[2] || "").padEnd(2, "0"))).toString();
  }

  async function counts() {
    const c = await P.call("WorkbenchService", "GetQueueCounts", { bureau });
    const by = Object.fromEntries((c.counts || []).map((q) => [q.queue, q]));
    $("tabs").innerHTML = QUEUES.map((key) => {
      const q = by[key] || {}; const overdue = Number(q.overdue || 0);
      return `<button type="button" role="tab" data-queue="${key}" aria-selected="${key === queue}">${t(`wb.${key}`)}
        <span class="badge">${P.esc(q.total || 0)}</span>${overdue ? ` <span class="badge overdue">${t("wb.overdueN", { n: overdue })}</span>` : ""}</button>`;
    }).join("");
    for (const b of $("tabs").querySelectorAll("button")) {
      b.addEventListener("click", () => { queue = b.dataset.queue; refresh(); });
    }
  }

  function actions(c) {
    if (c.queue === "REVIEW" && me.role !== "auditor") {
      return `<button type="button" data-act="approve">${t("wb.approve")}</button> <button type="button" class="danger" data-act="reject">${t("wb.reject")}</button>`;
    }
    if (c.queue === "APPEALS" && me.role === "approver") {
      return `<button type="button" data-act="uphold">${t("wb.uphold")}</button> <button type="button" class="secondary" data-act="dismiss">${t("wb.dismiss")}</button>`;
    }
    return "";
  }

  function row(c) {
    const state = c.overdue ? `<span class="badge overdue">${t("wb.overdue")}</span>`
      : `<span class="badge">${P.esc(t("wb.days", { n: c.ageWorkingDays || 0 }))}</span>`;
    const second = c.awaitingSecondApproval
      ? `<div class="muted">${P.esc(t("wb.second", { first: c.firstReviewer }))}</div>` : "";
    return `<tr data-case="${P.esc(c.caseId)}"><td><a href="#" class="data" data-enterprise="${P.esc(c.enterpriseId)}">${P.esc(c.enterpriseName)}</a>
      <div class="muted id">${P.esc(c.enterpriseId)}</div></td><td><span class="data">${P.esc(c.clause)}</span><div class="muted">${P.esc(c.ruleId)}</div>${second}</td>
      <td class="money">${P.yuan(c.amountFen)}</td><td>${P.beijing(c.enteredTime || c.enteredAt)}</td><td>${P.beijing(c.dueTime || c.dueAt)}</td>
      <td>${state}</td><td>${actions(c)}</td></tr>`;
  }

  async function list(more) {
    $("queue-error").textContent = "";
    try {
      const r = await P.call("WorkbenchService", "ListQueue", { bureau, queue,
        pageToken: more ? pageToken : "", overdueOnly: $("overdue-only").checked });
      cases = more ? cases.concat(r.cases || []) : (r.cases || []);
      pageToken = r.nextPageToken || "";
    } catch (err) { $("queue-error").textContent = err.explain(); cases = []; }
    $("cases").querySelector("tbody").innerHTML = cases.length ? cases.map(row).join("")
      : `<tr><td colspan="7" class="muted">${t("wb.nothing")}</td></tr>`;
    $("more").hidden = !pageToken;
    for (const tr of $("cases").querySelectorAll("tr[data-case]")) {
      const c = cases.find((x) => x.caseId === tr.dataset.case);
      for (const b of tr.querySelectorAll("[data-act]")) b.addEventListener("click", () => openDecide(c, b.dataset.act));
    }
    for (const a of $("cases").querySelectorAll("[data-enterprise]")) {
      a.addEventListener("click", (e) => { e.preventDefault(); statement(a.dataset.enterprise); });
    }
  }

  async function refresh() { await counts().catch((err) => { $("queue-error").textContent = err.explain(); }); await list(false); }

  function openDecide(c, act) {
    deciding = { c, act };
    $("decide-title").textContent = t(`wb.${act}`);
    $("decide-target").innerHTML = `${data(c.enterpriseName)} · ${data(c.clause)} · ${P.yuan(c.amountFen)}`;
    $("amount-row").hidden = act !== "approve";
    $("decide-amount").value = act === "approve" && BigInt(c.amountFen || 0) > 0n ? (Number(BigInt(c.amountFen) / 100n)).toString() : "";
    $("decide-error").textContent = "";
    $("decide-dialog").showModal();
  }

  function decisionEvent({ c, act }) {
    const cut = c.entitlementId.lastIndexOf("/");
    const eventRef = c.entitlementId.slice(0, cut), ruleId = c.entitlementId.slice(cut + 1);
    const reason = $("decide-reason").value.trim();
    const enterprise = { id: c.enterpriseId, name: c.enterpriseName, district: c.district };
    if (act === "approve" || act === "reject") {
      const reviewDecided = { eventRef, ruleId, approved: act === "approve", reason };
      if (act === "approve") reviewDecided.approvedAmountFen = fen($("decide-amount").value);
      return P.event(enterprise, { reviewDecided });
    }
    return P.event(enterprise, { appealDecided: { appealRef: c.caseId, eventRef, ruleId, upheld: act === "uphold", reason } });
  }

  $("decide-cancel").addEventListener("click", () => $("decide-dialog").close());
  $("decide").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await P.call("IngestService", "Submit", decisionEvent(deciding));
      $("decide-dialog").close();
      const tr = $("cases").querySelector(`tr[data-case="${CSS.escape(deciding.c.caseId)}"] td:last-child`);
      tr.innerHTML = `<span class="badge ok">${t("wb.submitted")}</span>`;
    } catch (err) { $("decide-error").textContent = err instanceof P.ApiError ? err.explain() : String(err); }
  });

  async function statement(enterpriseId) {
    const out = $("statement");
    try {
      const s = await P.call("LedgerService", "GetStatement", { enterpriseId });
      const rows = (s.entitlements || []).map((d) => `<tr><td>${P.esc(d.ruleId)}</td><td>${P.statusBadge(d.status)}</td>
        <td class="money">${P.yuan(d.grantedFen)}</td><td class="money">${P.yuan(d.entitledFen)}</td><td>${P.esc(d.year)}</td></tr>`).join("");
      const name = (s.entitlements || [])[0] ? s.entitlements[0].enterpriseName : enterpriseId;
      out.innerHTML = `<h2 class="data">${P.esc(name)}</h2><p class="muted">${P.esc(enterpriseId)} · ${t("wb.paidSoFar")} <span class="money">${P.yuan(s.grantedFen)}</span></p>
        <div class="table-wrap"><table><thead><tr><th>${t("wb.rule")}</th><th>${t("common.status")}</th><th class="money">${t("common.paid")}</th>
        <th class="money">${t("common.entitled")}</th><th>${t("wb.year")}</th></tr></thead>
        <tbody>${rows}</tbody></table></div>`;
    } catch (err) { out.innerHTML = `<p class="error">${P.esc(err.explain())}</p>`; }
  }

  $("search").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("search-error").textContent = "";
    try {
      const r = await P.call("WorkbenchService", "SearchEnterprises", { query: $("query").value.trim(), bureau });
      $("matches").innerHTML = (r.enterprises || []).map((m) => `<div class="card"><a href="#" class="data" data-enterprise="${P.esc(m.enterpriseId)}">${P.esc(m.enterpriseName)}</a>
        <span class="muted">${P.esc(m.enterpriseId)} · ${P.esc(labels.district[m.district] || m.district)} · ${P.esc(t("wb.open", { n: m.openCases || 0 }))}</span></div>`).join("")
        || `<p class="muted">${t("wb.notFound")}</p>`;
      for (const a of $("matches").querySelectorAll("[data-enterprise]")) {
        a.addEventListener("click", (ev) => { ev.preventDefault(); statement(a.dataset.enterprise); });
      }
    } catch (err) { $("search-error").textContent = err.explain(); }
  });

  $("overdue-only").addEventListener("change", () => list(false));
  $("more").addEventListener("click", () => list(true));
  await refresh();
})();
