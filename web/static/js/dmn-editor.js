// The DMN decision-table editor (dmn-js) and its test cases. Saving stores the table, then
// the test cases; the server runs the cases on every save and answers their results.
(function () {
  "use strict";
  var holder = document.getElementById("dmn-editor");
  if (!holder || !window.DmnJS) { return; }
  var labels = JSON.parse(holder.getAttribute("data-labels") || "{}");
  var revision = parseInt(holder.getAttribute("data-revision"), 10);
  var statusLine = document.getElementById("dmn-status");
  var casesArea = document.getElementById("dmn-cases");
  var resultsBody = document.querySelector("#dmn-results tbody");
  var editor = new window.DmnJS({ container: holder, common: { keyboard: { bindTo: document } } });

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("field-error", !!isError);
  }

  function post(url, text) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": holder.getAttribute("data-csrf") },
      body: JSON.stringify({ text: text, revision: revision })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.status !== 200) {
          var error = new Error((response.status === 409 ? labels.conflict : labels.failed) + " " + (body.error || ""));
          throw error;
        }
        revision = body.revision;
        return body;
      });
    });
  }

  function cell(row, text, code) {
    var td = document.createElement("td");
    if (code) {
      var c = document.createElement("code");
      c.textContent = text;
      td.appendChild(c);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
    return td;
  }

  function showResults(results) {
    resultsBody.textContent = "";
    if (!results || !results.length) {
      var empty = document.createElement("tr");
      var td = cell(empty, labels.noCases);
      td.colSpan = 4;
      td.className = "empty";
      resultsBody.appendChild(empty);
      return;
    }
    results.forEach(function (r) {
      var row = document.createElement("tr");
      row.className = r.ok ? "case-ok" : "case-failed";
      cell(row, r.name);
      var outcome = cell(row, "");
      var badge = document.createElement("span");
      badge.className = "badge badge-" + (r.ok ? "completed" : "error");
      badge.textContent = r.ok ? labels.pass : labels.fail;
      outcome.appendChild(badge);
      if (r.error) { outcome.appendChild(document.createTextNode(" " + r.error)); }
      cell(row, JSON.stringify(r.expected || {}), true);
      cell(row, JSON.stringify(r.actual || {}), true);
      resultsBody.appendChild(row);
    });
  }

  function save() {
    setStatus("…");
    editor.saveXML({ format: true })
      .then(function (result) { return post(holder.getAttribute("data-save"), result.xml); })
      .then(function () { return post(holder.getAttribute("data-save-tests"), casesArea.value); })
      .then(function (body) {
        holder.setAttribute("data-revision", String(revision));
        showResults(body.dmn_results);
        var failed = (body.dmn_results || []).filter(function (r) { return !r.ok; }).length;
        var count = body.problems.length;
        setStatus(labels.saved + " " + revision + "." + (count ? " " + count + " " + labels.problems + ": " +
          body.problems.map(function (p) { return p.text; }).join(" · ") : ""), failed > 0 || count > 0);
      })
      .catch(function (error) { setStatus(error.message, true); });
  }

  document.getElementById("dmn-save").addEventListener("click", save);

  fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return editor.importXML(xml); })
    .then(function () {
      var table = editor.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
      if (table) { return editor.open(table); }
      return null;
    })
    .then(function () { holder.classList.add("is-loaded"); })
    .catch(function (error) { setStatus("⚠ " + error.message, true); });

  window.jiedaiDmn = editor;  // for the browser tests
})();
