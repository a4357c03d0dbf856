// Passkeys: add one (security page), sign in with one (sign-in page, button and the browser's
// passkey autofill), or use one as the step after the password. The server gives WebAuthn
// options as JSON with bytes in base64url and checks everything; this file only translates
// between that JSON and navigator.credentials. The PRF output (the secret that unlocks the
// vault) is sent once, in the body of one request, and kept nowhere.
"use strict";

(() => {
  const fromB64 = (text) => {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  };
  const toB64 = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (const b of bytes) raw += String.fromCharCode(b);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const prfInput = (extensions) => {
    if (!extensions || !extensions.prf || !extensions.prf.eval) return extensions;
    return { ...extensions, prf: { eval: { first: fromB64(extensions.prf.eval.first) } } };
  };

  const creationOptions = (o) => ({
    ...o,
    challenge: fromB64(o.challenge),
    user: { ...o.user, id: fromB64(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) })),
  });

  const requestOptions = (o) => ({
    ...o,
    challenge: fromB64(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) })),
    extensions: prfInput(o.extensions),
  });

  // The WebAuthn response as JSON; the PRF output travels beside it, never inside.
  const credentialJSON = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: toB64(r.clientDataJSON) };
    if (r.attestationObject) response.attestationObject = toB64(r.attestationObject);
    if (r.authenticatorData) response.authenticatorData = toB64(r.authenticatorData);
    if (r.signature) response.signature = toB64(r.signature);
    if (r.userHandle) response.userHandle = toB64(r.userHandle);
    const out = { id: cred.id, rawId: toB64(cred.rawId), type: cred.type, response, clientExtensionResults: {} };
    const ext = cred.getClientExtensionResults();
    if (ext.prf && ext.prf.results && ext.prf.results.first) out.prf = toB64(ext.prf.results.first);
    return out;
  };

  const post = async (form, url, body) => {
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) throw new Error(data.error || "The server did not accept that. Please try again.");
    return data;
  };

  const showError = (form, error) => {
    const box = form.querySelector("[data-passkey-error]");
    let text = error && error.message ? error.message : String(error);
    if (error && error.name === "NotAllowedError") text = "The passkey request was cancelled or timed out.";
    if (box) { box.textContent = text; box.hidden = false; }
  };

  const supported = () => typeof window.PublicKeyCredential === "function";

  // Security page: create the passkey, then ask it once for its PRF output to wrap the vault key.
  const addForm = document.getElementById("passkey-add");
  if (addForm) {
    addForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!supported()) return showError(addForm, "This browser does not support passkeys.");
      const button = addForm.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const label = addForm.querySelector("[name=label]").value;
        const begin = await post(addForm, addForm.dataset.options);
        const created = await navigator.credentials.create({ publicKey: creationOptions(begin.publicKey) });
        const added = await post(addForm, addForm.dataset.finish, { credential: credentialJSON(created), label });
        const asserted = await navigator.credentials.get({ publicKey: requestOptions(added.publicKey) });
        const unlockUrl = addForm.dataset.unlock.replace("/0/", `/${added.passkey}/`);
        const done = await post(addForm, unlockUrl, { credential: credentialJSON(asserted) });
        window.location.assign(done.redirect);
      } catch (error) {
        showError(addForm, error);
        button.disabled = false;
      }
    });
  }

  // Sign-in page: the passkey alone, from the button or the browser's autofill.
  const signInForm = document.getElementById("passkey-sign-in");
  if (signInForm && supported()) {
    signInForm.hidden = false;
    let autofill = null;
    const signIn = async (mediation) => {
      // The autofill request is made abortable before it even asks for its challenge, so a
      // click on the button always wins (each request has its own challenge on the server).
      const controller = mediation ? (autofill = new AbortController()) : null;
      const begin = await post(signInForm, signInForm.dataset.options);
      if (controller && controller.signal.aborted) return;
      const options = { publicKey: requestOptions(begin.publicKey) };
      if (controller) {
        options.mediation = mediation;
        options.signal = controller.signal;
      }
      const cred = await navigator.credentials.get(options);
      const done = await post(signInForm, signInForm.dataset.finish, { credential: credentialJSON(cred) });
      window.location.assign(done.redirect);
    };
    signInForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (autofill) { autofill.abort(); autofill = null; }
      try { await signIn(null); } catch (error) { showError(signInForm, error); }
    });
    if (signInForm.dataset.autofill && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (!available) return;
        signIn("conditional").catch((error) => {
          if (error && error.name !== "AbortError") showError(signInForm, error);
        });
      });
    }
  }

  // Second step after the password: a passkey instead of a code.
  const stepForm = document.getElementById("passkey-second-factor");
  if (stepForm && supported()) {
    stepForm.hidden = false;
    stepForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const begin = await post(stepForm, stepForm.dataset.options);
        const cred = await navigator.credentials.get({ publicKey: requestOptions(begin.publicKey) });
        const done = await post(stepForm, stepForm.dataset.finish, { credential: credentialJSON(cred) });
        window.location.assign(done.redirect);
      } catch (error) {
        showError(stepForm, error);
      }
    });
  }
})();
