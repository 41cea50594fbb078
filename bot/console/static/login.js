// The login form: posts the credentials and goes to the queue on success.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch("login", { method: "POST", body, credentials: "same-origin" });
    if (response.ok) {
      window.location.href = "./";
      return;
    }
    if (response.status === 429) {
      error.textContent = "Terlalu banyak percobaan gagal. Coba lagi nanti.";
    } else {
      error.textContent = "Nama pengguna atau kata sandi salah.";
    }
  });
});
