// Clearance web app: progressive enhancement only. Every form works without this file.
"use strict";

// The terms form: show the consequences of the choice currently selected.
function showConsequences(fieldset) {
  const select = fieldset.querySelector("select[data-choice]");
  fieldset.querySelectorAll("ul.consequences").forEach(function (ul) {
    ul.hidden = ul.dataset.for !== select.value;
  });
}
document.querySelectorAll("fieldset.usage").forEach(function (fieldset) {
  const select = fieldset.querySelector("select[data-choice]");
  if (!select) return;
  select.addEventListener("change", function () { showConsequences(fieldset); });
  showConsequences(fieldset);
});

// Drag and drop registration: one upload per file, each with its own progress bar.
function uploadOne(form, file, list) {
  const item = document.createElement("li");
  const bar = document.createElement("progress");
  bar.max = 100; bar.value = 0;
  bar.setAttribute("aria-label", "Uploading " + file.name);
  const label = document.createElement("span");
  label.textContent = " " + file.name + ": uploading";
  item.append(bar, label);
  list.append(item);
  return new Promise(function (resolve) {
    const data = new FormData();
    data.append("csrf", form.querySelector("input[name=csrf]").value);
    data.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "clearance-upload");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    });
    xhr.addEventListener("load", function () {
      bar.value = 100;
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {}; }
      const ok = (answer.registered || []).join("; ");
      let bad = (answer.errors || []).join("; ");
      if (xhr.status >= 400 && !bad) {
        bad = file.name + ": " + (answer.error || "the server refused it (HTTP " + xhr.status + ")");
      }
      label.textContent = " " + (ok ? "registered " + ok : "") + (bad ? " not registered: " + bad : "");
      item.className = bad ? "error" : "note";
      resolve(!bad);
    });
    xhr.addEventListener("error", function () {
      label.textContent = " " + file.name + ": the upload failed";
      item.className = "error";
      resolve(false);
    });
    xhr.send(data);
  });
}

document.querySelectorAll("form[data-dropzone]").forEach(function (form) {
  const list = form.querySelector("[data-uploads]");
  const input = form.querySelector("input[type=file]");
  function send(files) {
    if (!files.length) return;
    Promise.all(Array.from(files).map(function (f) { return uploadOne(form, f, list); }))
      .then(function (results) {
        if (results.some(Boolean)) {
          const more = document.createElement("li");
          const link = document.createElement("a");
          link.href = window.location.pathname;
          link.textContent = "Show the updated list";
          more.append(link);
          list.append(more);
        }
      });
  }
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (e) { e.preventDefault(); form.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function () { form.classList.remove("over"); });
  });
  form.addEventListener("drop", function (e) {
    e.preventDefault();
    send(e.dataTransfer.files);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    send(input.files);
    input.value = "";
  });
});
