// Shows an instance's diagram read-only, marking the elements passed and the ones waiting.
(function () {
  "use strict";
  var holder = document.getElementById("diagram");
  if (!holder || !window.BpmnJS) { return; }
  var viewer = new window.BpmnJS({ container: holder });
  function ids(name) {
    return (holder.getAttribute(name) || "").split(" ").filter(Boolean);
  }
  fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      ids("data-done").forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, "is-done"); }
      });
      ids("data-current").forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, "is-current"); }
      });
      canvas.zoom("fit-viewport");
      holder.classList.add("is-loaded");
    })
    .catch(function (error) {
      holder.textContent = "⚠ " + error.message;
      holder.classList.add("is-failed");
    });
})();
