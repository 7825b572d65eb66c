// The sign-in form: a credential exchanged for a session, then the page of the role.
"use strict";

document.querySelector("header .who").insertAdjacentHTML("beforeend", ` ${I18n.switcher()}`);

document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = document.getElementById("login-error");
  out.textContent = "";
  try {
    const credential = document.getElementById("credential").value.trim();
    const s = await Portal.call("IdentityService", "CreateSession", { credential }, { anonymous: true });
    sessionStorage.setItem(Portal.KEY, JSON.stringify(s));
    location.href = I18n.href(s.principal.role === "enterprise" ? "/enterprise" : "/workbench");
  } catch (err) {
    out.textContent = err instanceof Portal.ApiError ? err.explain() : String(err);
  }
});
