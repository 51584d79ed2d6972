// The process owners' diagrams: a bpmn-js viewer that marks changes or a test run's path
// (`data-mode="viewer"`), and the bpmn-js modeler with a small jiedai side panel
// (`data-mode="modeler"`). No inline scripts: everything comes from data-* attributes and
// JSON endpoints. The side panel edits what jiedai needs of an element through the modeling
// API, and the `spiffworkflow:` moddle extension below keeps SpiffArena's extension elements
// (properties, calledDecisionId, serviceTaskOperator, instructionsForEndUser, scripts) intact
// when a diagram is saved.
(function () {
  "use strict";

  var SPIFF_URI = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  function bodyType(name) {
    return { name: name, superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] };
  }
  var SPIFF_MODDLE = {
    name: "SpiffWorkflow",
    prefix: "spiffworkflow",
    uri: SPIFF_URI,
    xml: { tagAlias: "lowerCase" },
    associations: [],
    types: [
      { name: "Properties", superClass: ["Element"],
        properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      bodyType("CalledDecisionId"),
      bodyType("InstructionsForEndUser"),
      bodyType("PreScript"),
      bodyType("PostScript"),
      bodyType("VariableName"),
      { name: "ServiceTaskOperator", superClass: ["Element"],
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "resultVariable", isAttr: true, type: "String" },
          { name: "parameters", type: "Parameters" }
        ] },
      { name: "Parameters", superClass: ["Element"],
        properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
      { name: "Parameter", superClass: ["Element"],
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "type", isAttr: true, type: "String" },
          { name: "value", isAttr: true, type: "String" }
        ] }
    ]
  };

  function list(holder, name) {
    return (holder.getAttribute(name) || "").split(/[ ,]/).filter(Boolean);
  }

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      return response.text();
    });
  }

  function mark(canvas, registry, ids, marker) {
    ids.forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, marker); }
    });
  }

  // --- viewer: a version's changes, or the path of a test run --------------------------------
  var viewerHolder = document.querySelector("[data-mode='viewer']");
  if (viewerHolder && window.BpmnJS) {
    var viewer = new window.BpmnJS({ container: viewerHolder });
    fetchText(viewerHolder.getAttribute("data-src"))
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        mark(canvas, registry, list(viewerHolder, "data-added"), "is-added");
        mark(canvas, registry, list(viewerHolder, "data-changed"), "is-changed");
        mark(canvas, registry, list(viewerHolder, "data-done"), "is-done");
        mark(canvas, registry, list(viewerHolder, "data-current"), "is-current");
        canvas.zoom("fit-viewport");
        viewerHolder.classList.add("is-loaded");
      })
      .catch(function (error) {
        viewerHolder.textContent = "⚠ " + error.message;
        viewerHolder.classList.add("is-failed");
      });
  }

  // --- modeler ---------------------------------------------------------------------------------
  var holder = document.querySelector("[data-mode='modeler']");
  if (!holder || !window.BpmnJS) { return; }
  var labels = JSON.parse(holder.getAttribute("data-labels") || "{}");
  var revision = parseInt(holder.getAttribute("data-revision"), 10);
  var panel = document.getElementById("modeler-panel");
  var statusLine = document.getElementById("modeler-status");
  var problemList = document.getElementById("modeler-problems");
  var modeler = new window.BpmnJS({
    container: holder,
    keyboard: { bindTo: document },
    moddleExtensions: { spiffworkflow: SPIFF_MODDLE }
  });
  var modeling = modeler.get("modeling");
  var moddle = modeler.get("moddle");
  var canvas = modeler.get("canvas");
  var registry = modeler.get("elementRegistry");
  var problems = [];
  var selected = null;
  var fieldCount = 0;

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("field-error", !!isError);
  }

  function showProblems(found) {
    registry.getAll().forEach(function (element) { canvas.removeMarker(element.id, "has-problem"); });
    problems = found || [];
    problemList.textContent = "";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.textContent = problem.text;
      if (problem.element_id && registry.get(problem.element_id)) {
        canvas.addMarker(problem.element_id, "has-problem");
        item.classList.add("is-clickable");
        item.setAttribute("data-element", problem.element_id);
        item.addEventListener("click", function () {
          var element = registry.get(problem.element_id);
          modeler.get("selection").select(element);
          canvas.scrollToElement(element);
        });
      }
      problemList.appendChild(item);
    });
    holder.setAttribute("data-problem-count", String(problems.length));
    renderPanel();
  }

  // Extension elements of a business object: find or create one of `type`.
  function extension(bo, type, create) {
    var ext = bo.get("extensionElements");
    var found = ext && (ext.get("values") || []).filter(function (v) { return v.$type === type; })[0];
    if (found || !create) { return found || null; }
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = bo;
    }
    found = moddle.create(type, {});
    found.$parent = ext;
    ext.get("values").push(found);
    return { created: found, ext: ext };
  }

  function withExtension(element, type, change) {
    var bo = element.businessObject;
    var result = extension(bo, type, true);
    var target = result.created || result;
    change(target);
    modeling.updateProperties(element, { extensionElements: result.ext || bo.get("extensionElements") });
  }

  function spiffProperty(bo, name) {
    var props = extension(bo, "spiffworkflow:Properties", false);
    var match = props && (props.get("properties") || []).filter(function (p) { return p.name === name; })[0];
    return match ? match.value || "" : "";
  }

  function setSpiffProperty(element, name, value) {
    withExtension(element, "spiffworkflow:Properties", function (props) {
      var items = props.get("properties");
      var match = items.filter(function (p) { return p.name === name; })[0];
      if (!value) {
        if (match) { items.splice(items.indexOf(match), 1); }
        return;
      }
      if (!match) {
        match = moddle.create("spiffworkflow:Property", { name: name });
        match.$parent = props;
        items.push(match);
      }
      match.value = value;
    });
  }

  function bodyOf(bo, type) {
    var found = extension(bo, type, false);
    return found ? found.value || "" : "";
  }

  function setBody(element, type, value) {
    withExtension(element, type, function (item) { item.value = value; });
  }

  function field(kind, key, value, onChange, options) {
    var label = labels[key] || key;
    var wrap = document.createElement("div");
    fieldCount += 1;
    var id = "panel-field-" + fieldCount;
    var labelEl = document.createElement("label");
    labelEl.setAttribute("for", id);
    labelEl.textContent = label;
    var input;
    if (kind === "select") {
      input = document.createElement("select");
      (options || []).forEach(function (option) {
        var opt = document.createElement("option");
        opt.value = option[0];
        opt.textContent = option[1];
        if (option[0] === value) { opt.selected = true; }
        input.appendChild(opt);
      });
      if (value && (options || []).every(function (o) { return o[0] !== value; })) {
        var extra = document.createElement("option");
        extra.value = value;
        extra.textContent = value;
        extra.selected = true;
        input.appendChild(extra);
      }
    } else if (kind === "textarea") {
      input = document.createElement("textarea");
      input.rows = 5;
      input.value = value || "";
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.value = value || "";
      if (kind === "readonly") { input.readOnly = true; }
    }
    input.id = id;
    input.name = id;
    input.setAttribute("data-key", key);
    if (kind !== "readonly") {
      input.addEventListener("change", function () { onChange(input.value); });
    }
    wrap.appendChild(labelEl);
    wrap.appendChild(input);
    return wrap;
  }

  function help(text) {
    var p = document.createElement("p");
    p.className = "panel-help";
    p.textContent = text;
    return p;
  }

  function renderPanel() {
    panel.textContent = "";
    var element = selected;
    if (!element || element.type === "label" || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
      panel.appendChild(help(labels.nothing));
      return;
    }
    var bo = element.businessObject;
    var type = element.type;
    var heading = document.createElement("p");
    heading.className = "panel-type";
    heading.textContent = type.replace("bpmn:", "");
    panel.appendChild(heading);
    panel.appendChild(field("readonly", "id", bo.id));
    if (type === "bpmn:Lane") {
      panel.appendChild(field("text", "lane", bo.name, function (v) { modeling.updateLabel(element, v); }));
      panel.appendChild(help(labels.knownRoles + ": " + list(holder, "data-roles").join(", ")));
    } else {
      panel.appendChild(field("text", "name", bo.name, function (v) { modeling.updateLabel(element, v); }));
    }
    if (type === "bpmn:UserTask") {
      var forms = [["", labels.noForm]].concat(list(holder, "data-forms").map(function (f) { return [f, f]; }));
      panel.appendChild(field("select", "form", spiffProperty(bo, "formJsonSchemaFilename"), function (v) {
        setSpiffProperty(element, "formJsonSchemaFilename", v);
      }, forms));
      panel.appendChild(field("text", "department", spiffProperty(bo, "candidateDepartmentField"), function (v) {
        setSpiffProperty(element, "candidateDepartmentField", v.trim());
      }));
      panel.appendChild(field("text", "assignee", spiffProperty(bo, "assigneeField"), function (v) {
        setSpiffProperty(element, "assigneeField", v.trim());
      }));
      panel.appendChild(field("textarea", "instructions", bodyOf(bo, "spiffworkflow:InstructionsForEndUser"), function (v) {
        setBody(element, "spiffworkflow:InstructionsForEndUser", v);
      }));
    }
    if (type === "bpmn:ScriptTask") {
      panel.appendChild(field("textarea", "script", bo.script || "", function (v) {
        modeling.updateProperties(element, { script: v, scriptFormat: bo.scriptFormat || "python" });
      }));
    }
    if (type === "bpmn:SequenceFlow") {
      var condition = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
      panel.appendChild(field("textarea", "condition", condition, function (v) {
        var expression = v.trim() ? moddle.create("bpmn:FormalExpression", { body: v }) : undefined;
        modeling.updateProperties(element, { conditionExpression: expression });
      }));
    }
    var definitions = bo.eventDefinitions || [];
    var timer = definitions.filter(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })[0];
    if (timer) {
      var kind = timer.timeDuration ? "timeDuration" : timer.timeCycle ? "timeCycle" : "timeDate";
      var current = timer[kind] ? timer[kind].body || "" : "";
      var kinds = [["timeDuration", "timeDuration"], ["timeDate", "timeDate"], ["timeCycle", "timeCycle"]];
      var setTimer = function (newKind, body) {
        var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
        props[newKind] = moddle.create("bpmn:FormalExpression", { body: body });
        modeling.updateModdleProperties(element, timer, props);
      };
      panel.appendChild(field("select", "timerType", kind, function (v) { setTimer(v, current); }, kinds));
      panel.appendChild(field("text", "timer", current, function (v) { setTimer(kind, v); }));
      panel.appendChild(help(labels.timerHelp));
    }
    if (type === "bpmn:ServiceTask") {
      var operator = extension(bo, "spiffworkflow:ServiceTaskOperator", false);
      var operators = [["", "—"]].concat(list(holder, "data-operators").map(function (o) { return [o, o]; }));
      panel.appendChild(field("select", "operator", operator ? operator.id : "", function (v) {
        withExtension(element, "spiffworkflow:ServiceTaskOperator", function (op) { op.id = v; });
      }, operators));
      panel.appendChild(field("text", "result", operator ? operator.resultVariable : "", function (v) {
        withExtension(element, "spiffworkflow:ServiceTaskOperator", function (op) { op.resultVariable = v.trim() || undefined; });
      }));
    }
    if (type === "bpmn:BusinessRuleTask") {
      var decisions = [["", "—"]].concat(list(holder, "data-decisions").map(function (d) { return [d, d]; }));
      panel.appendChild(field("select", "decision", bodyOf(bo, "spiffworkflow:CalledDecisionId"), function (v) {
        setBody(element, "spiffworkflow:CalledDecisionId", v);
      }, decisions));
    }
    var mine = problems.filter(function (p) { return p.element_id === bo.id; });
    if (mine.length) {
      var ul = document.createElement("ul");
      ul.className = "panel-problems";
      mine.forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = p.text;
        ul.appendChild(li);
      });
      panel.appendChild(ul);
    }
  }

  modeler.on("selection.changed", function (event) {
    selected = event.newSelection.length === 1 ? event.newSelection[0] : null;
    renderPanel();
  });
  modeler.on("elements.changed", function () {
    if (selected) { renderPanel(); }
  });

  function save() {
    setStatus("…");
    return modeler.saveXML({ format: true }).then(function (result) {
      return fetch(holder.getAttribute("data-save"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": holder.getAttribute("data-csrf") },
        body: JSON.stringify({ text: result.xml, revision: revision })
      });
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      if (answer.status !== 200) {
        setStatus((answer.status === 409 ? labels.conflict : labels.failed) + " " + (answer.body.error || ""), true);
        return;
      }
      revision = answer.body.revision;
      holder.setAttribute("data-revision", String(revision));
      var count = answer.body.problems.length;
      setStatus(labels.saved + " " + revision + ". " + (count ? count + " " + labels.problems : labels.noProblems), count > 0);
      showProblems(answer.body.problems);
    }).catch(function (error) { setStatus(labels.failed + ": " + error.message, true); });
  }

  document.getElementById("modeler-save").addEventListener("click", save);

  fetchText(holder.getAttribute("data-src"))
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function (result) {
      // Fit, then leave room on the left for the palette that floats over the canvas.
      canvas.zoom("fit-viewport", "auto");
      canvas.zoom(canvas.viewbox().scale * 0.85, "auto");
      canvas.scroll({ dx: 40, dy: 0 });
      holder.classList.add("is-loaded");
      if (result.warnings && result.warnings.length) {
        setStatus(result.warnings.length + " import warning(s): " + result.warnings[0].message, true);
      }
      return fetch(holder.getAttribute("data-problems"), { credentials: "same-origin" });
    })
    .then(function (response) { return response.json(); })
    .then(function (body) { showProblems(body.problems); })
    .catch(function (error) { setStatus("⚠ " + error.message, true); });

  window.jiedaiModeler = modeler;  // for the browser tests
})();
