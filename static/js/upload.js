// Upload page (templates/documents/upload.html): drag-and-drop, a list of the chosen files and a
// progress bar on top of the plain multi-file form, which keeps working without this file.
// The form is posted as FormData by XMLHttpRequest (upload progress events) with the CSRF token
// header; the server answers with the outcomes fragment (HX-Target: upload-outcomes).
// User-visible texts come from data-msg-* attributes of the form (translated by the server).
(function () {
  "use strict";

  var MB = 1048576;

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function megabytes(bytes) {
    return (bytes / MB).toFixed(1);
  }

  function limitMegabytes(bytes) {
    return String(Math.round(bytes / MB * 10) / 10);  // 256 MB, or 1.4 MB for a small limit
  }

  function humanSize(bytes) {  // as the server's file_size filter: units of 1024
    if (bytes < 1024) { return bytes + " B"; }
    if (bytes < MB) { return (bytes / 1024).toFixed(1) + " KB"; }
    return megabytes(bytes) + " MB";
  }

  function csrfToken(form) {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) { return headers["X-CSRFToken"]; }
    } catch (ignored) { /* fall back to the form's own token */ }
    var field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function enhance(form) {
    if (form.getAttribute("data-enhanced") || !window.FormData || !window.XMLHttpRequest) { return; }
    form.setAttribute("data-enhanced", "1");
    form.classList.add("upload-enhanced");

    var input = form.querySelector("input[type=file][name=files]");
    var zone = form.querySelector(".dropzone");
    var list = form.querySelector(".file-list");
    var progressBox = form.querySelector(".upload-progress");
    var bar = progressBox.querySelector("progress");
    var progressText = progressBox.querySelector(".progress-text");
    var cancel = progressBox.querySelector(".cancel-upload");
    var submit = form.querySelector("button[type=submit]");
    var outcomes = document.getElementById("upload-outcomes");
    var msg = form.dataset;
    var maxBytes = parseInt(msg.maxBytes, 10) || 0;
    var maxRequest = parseInt(msg.maxRequestBytes, 10) || 0;
    var chosen = [];
    var xhr = null;

    function fileKey(file) {
      return [file.name, file.size, file.lastModified].join("|");
    }

    function add(files) {
      var known = {};
      chosen.forEach(function (item) { known[fileKey(item.file)] = true; });
      Array.prototype.forEach.call(files || [], function (file) {
        if (known[fileKey(file)]) { return; }
        known[fileKey(file)] = true;
        chosen.push({ file: file, ok: !maxBytes || file.size <= maxBytes });
      });
      progressBox.hidden = true;
      render();
    }

    function render() {
      list.textContent = "";
      chosen.forEach(function (item, index) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.className = "file-name";
        name.textContent = item.file.name;
        var size = document.createElement("span");
        size.className = "file-size";
        size.textContent = humanSize(item.file.size);
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "linklike remove-file";
        remove.textContent = msg.msgRemove;
        remove.setAttribute("data-index", String(index));
        remove.setAttribute("aria-label", msg.msgRemove + " " + item.file.name);
        li.appendChild(name);
        li.appendChild(size);
        li.appendChild(remove);
        if (!item.ok) {
          li.className = "too-large";
          var problem = document.createElement("span");
          problem.className = "file-problem";
          problem.textContent = fill(msg.msgTooLarge, { size: megabytes(item.file.size),
                                                        limit: limitMegabytes(maxBytes) });
          li.appendChild(problem);
        }
        list.appendChild(li);
      });
      list.hidden = chosen.length === 0;
    }

    function say(text) {
      outcomes.textContent = "";
      var p = document.createElement("p");
      p.className = "flash flash-error";
      p.setAttribute("role", "alert");
      p.textContent = text;
      outcomes.appendChild(p);
    }

    function busy(on) {
      form.classList.toggle("uploading", on);
      submit.disabled = on;
      cancel.hidden = !on;
    }

    function showResponse(request) {
      outcomes.innerHTML = request.responseText;
      if (window.htmx) { window.htmx.process(outcomes); }
      if (outcomes.querySelector(".outcome-list")) {
        // The outcomes say what happened to each file sent; the files too large to send stay
        // listed with their reason.
        chosen = chosen.filter(function (item) { return !item.ok; });
        render();
      }
      var focus = outcomes.querySelector("#h-outcomes") || outcomes.querySelector(".flash");
      if (focus) {
        if (!focus.hasAttribute("tabindex")) { focus.setAttribute("tabindex", "-1"); }
        focus.focus();
      }
      outcomes.scrollIntoView({ block: "start" });
    }

    input.addEventListener("change", function () {
      add(input.files);
      input.value = "";  // the list above holds the files now
    });

    list.addEventListener("click", function (event) {
      var button = event.target.closest(".remove-file");
      if (!button || xhr) { return; }
      chosen.splice(parseInt(button.getAttribute("data-index"), 10), 1);
      render();
    });

    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragover");
      if (event.dataTransfer) { add(event.dataTransfer.files); }
    });
    // A file dropped beside the zone must not make the browser leave the page for the file.
    form.addEventListener("dragover", function (event) { event.preventDefault(); });
    form.addEventListener("drop", function (event) { event.preventDefault(); });
    zone.addEventListener("click", function (event) {
      if (event.target === zone) { input.click(); }
    });

    cancel.addEventListener("click", function () {
      if (xhr) { xhr.abort(); }
    });

    window.addEventListener("beforeunload", function (event) {
      if (xhr) { event.preventDefault(); event.returnValue = ""; }
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (xhr) { return; }
      var files = chosen.filter(function (item) { return item.ok; }).map(function (item) { return item.file; });
      if (!files.length) {
        say(msg.msgNone);
        return;
      }
      var total = files.reduce(function (sum, file) { return sum + file.size; }, 0);
      if (maxRequest && total + MB > maxRequest) {
        say(fill(msg.msgRequestTooLarge, { size: megabytes(total), limit: limitMegabytes(maxRequest) }));
        return;
      }
      var data = new FormData(form);
      data.delete("files");
      files.forEach(function (file) { data.append("files", file, file.name); });

      var request = new XMLHttpRequest();
      xhr = request;
      request.open("POST", form.action);
      request.setRequestHeader("HX-Request", "true");
      request.setRequestHeader("HX-Target", "upload-outcomes");
      request.setRequestHeader("X-CSRFToken", csrfToken(form));
      request.upload.addEventListener("progress", function (ev) {
        if (!ev.lengthComputable) { return; }
        var percent = Math.floor(ev.loaded * 100 / ev.total);
        bar.value = percent;
        progressText.textContent = fill(msg.msgSending, { percent: percent });
      });
      request.upload.addEventListener("load", function () {
        bar.removeAttribute("value");  // indeterminate while the server checks and stores
        progressText.textContent = msg.msgChecking;
      });
      request.addEventListener("load", function () {
        xhr = null;
        busy(false);
        bar.value = 100;
        progressText.textContent = msg.msgDone;
        showResponse(request);
      });
      request.addEventListener("error", function () {
        xhr = null;
        busy(false);
        progressBox.hidden = true;
        say(msg.msgFailed);
      });
      request.addEventListener("abort", function () {
        xhr = null;
        busy(false);
        progressBox.hidden = true;
        say(msg.msgCancelled);
      });

      bar.value = 0;
      progressText.textContent = fill(msg.msgSending, { percent: 0 });
      progressBox.hidden = false;
      busy(true);
      request.send(data);
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-upload]"), enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
  // Pages reached through hx-boost: the script may already be loaded when the form arrives.
  document.addEventListener("htmx:load", init);
})();
