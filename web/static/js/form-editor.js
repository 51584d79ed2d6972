// A form's JSON Schema with a live preview rendered by the server (forms.rendering), so the
// preview is exactly what staff will see. An invalid schema is shown with its JSON pointers
// and cannot be saved.
(function () {
  "use strict";
  var holder = document.getElementById("form-editor");
  if (!holder) { return; }
  var labels = JSON.parse(holder.getAttribute("data-labels") || "{}");
  var revision = parseInt(holder.getAttribute("data-revision"), 10);
  var area = document.getElementById("form-schema");
  var preview = document.getElementById("form-preview");
  var problemList = document.getElementById("form-problems");
  var statusLine = document.getElementById("form-status");
  var csrf = holder.getAttribute("data-csrf");
  var timer = null;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) { return { status: response.status, body: json }; });
    });
  }

  function showProblems(problems) {
    problemList.textContent = "";
    (problems || []).forEach(function (p) {
      var li = document.createElement("li");
      li.className = "field-error";
      li.textContent = p.text;
      li.setAttribute("data-pointer", p.pointer || "");
      problemList.appendChild(li);
    });
  }

  function refresh() {
    post(holder.getAttribute("data-preview"), { text: area.value }).then(function (answer) {
      if (answer.body.ok) {
        // Server-rendered from the schema by forms.rendering (autoescaped Jinja2).
        preview.innerHTML = answer.body.html;
        showProblems([]);
      } else {
        showProblems(answer.body.problems);
      }
    });
  }

  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });

  document.getElementById("form-save").addEventListener("click", function () {
    statusLine.textContent = "…";
    post(holder.getAttribute("data-save"), { text: area.value, revision: revision }).then(function (answer) {
      if (answer.status === 200) {
        revision = answer.body.revision;
        holder.setAttribute("data-revision", String(revision));
        statusLine.textContent = labels.saved + " " + revision + ".";
        statusLine.classList.remove("field-error");
        showProblems([]);
      } else {
        statusLine.textContent = (answer.status === 409 ? labels.conflict : labels.failed) + " " + (answer.body.error || "");
        statusLine.classList.add("field-error");
        showProblems(answer.body.problems);
      }
    });
  });

  refresh();
})();
