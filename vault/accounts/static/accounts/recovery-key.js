// Recovery key page: save the key as a text file or print it, without any server round trip.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("recovery-key");
  if (!holder) return;
  const key = holder.dataset.key;
  document.getElementById("download-key")?.addEventListener("click", () => {
    const text =
      "Secure Photo Vault recovery key\n\n" + key + "\n\n" +
      "This key is the only way back into your photos if you forget your password.\n" +
      "Keep it somewhere safe and private.\n";
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const link = Object.assign(document.createElement("a"), {
      href: url,
      download: "secure-photo-vault-recovery-key.txt",
    });
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  });
  document.getElementById("print-key")?.addEventListener("click", () => window.print());
});
