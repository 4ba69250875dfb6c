// Segment rule builder: turns the rules' JSON textarea into nested groups of condition rows and
// shows the live count. The page works without it (the textarea and the Preview button).
// Config: <script type="application/json" id="segment-builder-config"> {fields, ops, preview_url, messages}.
(function () {
  "use strict";
  var cfgEl = document.getElementById("segment-builder-config");
  var mount = document.getElementById("segment-builder");
  var textarea = document.getElementById("rules");
  var form = document.getElementById("segment-form");
  if (!cfgEl || !mount || !textarea || !form) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var msg = cfg.messages;
  var fields = {};
  cfg.fields.forEach(function (f) { fields[f.name] = f; });
  var countEl = document.getElementById("segment-live-count");
  var channelEl = form.querySelector("select[name=channel]");
  var csrfEl = form.querySelector("input[name=csrf_token]");
  var MULTI = { "in": true, "not_in": true };
  var NO_VALUE = { "is_null": true, "not_null": true };
  var DAYS = { "within_days": true, "older_than_days": true };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function option(value, label, selected) {
    var o = el("option", { value: value, text: label });
    if (selected) { o.selected = true; }
    return o;
  }

  // -- model: plain objects mirroring the JSON ------------------------------------------------------
  var root;
  function parse() {
    try {
      var data = JSON.parse(textarea.value || '{"all": []}');
      return normalize(data);
    } catch (e) { return null; }
  }
  function normalize(node) {
    if (node && typeof node === "object" && !Array.isArray(node)) {
      if (Array.isArray(node.all)) { return { kind: "all", children: node.all.map(normalize) }; }
      if (Array.isArray(node.any)) { return { kind: "any", children: node.any.map(normalize) }; }
      if (node.not && typeof node.not === "object") { return { kind: "not", children: [normalize(node.not)] }; }
      if ("field" in node) { return { field: node.field, op: node.op, value: node.value }; }
    }
    throw new Error("not a rule");
  }
  function serialize(node) {
    if (node.kind) {
      if (node.kind === "not") { return { not: node.children.length ? serialize(node.children[0]) : {} }; }
      var out = {};
      out[node.kind] = node.children.map(serialize);
      return out;
    }
    var cond = { field: node.field, op: node.op };
    if (!NO_VALUE[node.op]) { cond.value = node.value; }
    return cond;
  }
  function childPath(path, kind, i) {
    var prefix = path === "rules" ? "" : path + ".";
    return kind === "not" ? prefix + "not" : prefix + kind + "[" + i + "]";
  }
  function defaultValue(f, op) {
    if (!f || NO_VALUE[op]) { return null; }
    if (f.type === "purchase") { return { category: f.choices && f.choices.length ? f.choices[0][0] : "", days: 90 }; }
    if (MULTI[op]) { return []; }
    if (op === "between") { return f.type === "date" ? ["", ""] : [f.min || 0, f.max || 0]; }
    if (DAYS[op]) { return 30; }
    if (f.type === "bool") { return true; }
    if (f.choices && f.choices.length) { return f.choices[0][0]; }
    if (f.type === "int" || f.type === "number") { return f.min || 0; }
    return "";
  }
  function newCondition() {
    var f = cfg.fields[0];
    return { field: f.name, op: f.ops[0], value: defaultValue(f, f.ops[0]) };
  }

  // -- value inputs -----------------------------------------------------------------------------------
  function numberOrRaw(raw, type) {
    if (raw === "" || raw === null) { return raw; }
    var n = Number(raw);
    if (!isFinite(n)) { return raw; }
    return type === "int" && Math.floor(n) !== n ? raw : n;
  }
  function scalarInput(f, value, onChange, label) {
    var input;
    if (f.choices) {
      input = el("select", { "aria-label": label || msg.value });
      input.appendChild(option("", msg.choose, value === "" || value === null));
      f.choices.forEach(function (c) { input.appendChild(option(c[0], c[1], String(c[0]) === String(value))); });
      input.addEventListener("change", function () { onChange(input.value); });
      return input;
    }
    if (f.type === "bool") {
      input = el("select", { "aria-label": label || msg.value });
      input.appendChild(option("true", msg.yes, value === true));
      input.appendChild(option("false", msg.no, value === false));
      input.addEventListener("change", function () { onChange(input.value === "true"); });
      return input;
    }
    var type = f.type === "date" ? "date" : (f.type === "int" || f.type === "number") ? "number" : "text";
    input = el("input", { type: type, "aria-label": label || msg.value });
    if (f.type === "number") { input.setAttribute("step", "any"); }
    if (f.hint) { input.setAttribute("placeholder", f.hint); }
    input.value = value === null || value === undefined ? "" : value;
    input.addEventListener("input", function () {
      onChange(type === "number" ? numberOrRaw(input.value, f.type) : input.value);
    });
    return input;
  }
  function valueInputs(cond, f, changed) {
    var box = el("span", { "class": "toolbar", "data-role": "value" });
    if (!f || NO_VALUE[cond.op]) { return box; }
    if (f.type === "purchase") {
      var v = cond.value && typeof cond.value === "object" ? cond.value : { category: "", days: null };
      var cat = scalarInput({ choices: f.choices, type: "code" }, v.category, function (x) { v.category = x; cond.value = v; changed(); });
      var days = el("input", { type: "number", min: "1", placeholder: msg.any_time, "aria-label": msg.days });
      days.value = v.days === null || v.days === undefined ? "" : v.days;
      days.addEventListener("input", function () { v.days = days.value === "" ? null : numberOrRaw(days.value, "int"); cond.value = v; changed(); });
      box.appendChild(cat); box.appendChild(days); box.appendChild(el("small", { text: msg.days }));
      return box;
    }
    if (DAYS[cond.op]) {
      box.appendChild(scalarInput({ type: "int" }, cond.value, function (x) { cond.value = x; changed(); }));
      box.appendChild(el("small", { text: msg.days }));
      return box;
    }
    if (cond.op === "between") {
      var pair = Array.isArray(cond.value) ? cond.value : ["", ""];
      box.appendChild(el("small", { text: msg.from }));
      box.appendChild(scalarInput(f, pair[0], function (x) { pair[0] = x; cond.value = pair; changed(); }, msg.from));
      box.appendChild(el("small", { text: msg.to }));
      box.appendChild(scalarInput(f, pair[1], function (x) { pair[1] = x; cond.value = pair; changed(); }, msg.to));
      return box;
    }
    if (MULTI[cond.op]) {
      var list = Array.isArray(cond.value) ? cond.value : [];
      if (f.choices) {
        var multi = el("select", { multiple: "multiple", size: String(Math.min(6, f.choices.length)), "aria-label": msg.value });
        f.choices.forEach(function (c) { multi.appendChild(option(c[0], c[1], list.map(String).indexOf(String(c[0])) >= 0)); });
        multi.addEventListener("change", function () {
          cond.value = Array.prototype.filter.call(multi.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
          changed();
        });
        box.appendChild(multi);
      } else {
        var text = el("input", { type: "text", "aria-label": msg.value, placeholder: "a, b, c" });
        text.value = list.join(", ");
        text.addEventListener("input", function () {
          cond.value = text.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) {
            return f.type === "int" || f.type === "number" ? numberOrRaw(s, f.type) : s;
          });
          changed();
        });
        box.appendChild(text);
      }
      return box;
    }
    box.appendChild(scalarInput(f, cond.value, function (x) { cond.value = x; changed(); }));
    return box;
  }

  // -- rendering ------------------------------------------------------------------------------------------
  function render() {
    mount.textContent = "";
    mount.appendChild(renderGroup(root, null, "rules"));
    if (root.kind === "all" && !root.children.length) {
      mount.appendChild(el("p", { "class": "muted", text: msg.everyone }));
    }
  }
  function renderCondition(cond, parent, path) {
    var li = el("li", { "class": "toolbar", "data-path": path });
    var f = fields[cond.field];
    var fieldSel = el("select", { "aria-label": msg.field, "data-role": "field" });
    if (!f) { fieldSel.appendChild(option(cond.field || "", cond.field || msg.choose, true)); }
    cfg.fields.forEach(function (x) { fieldSel.appendChild(option(x.name, x.label, x.name === cond.field)); });
    fieldSel.addEventListener("change", function () {
      var nf = fields[fieldSel.value];
      cond.field = nf.name;
      if (nf.ops.indexOf(cond.op) < 0) { cond.op = nf.ops[0]; }
      cond.value = defaultValue(nf, cond.op);
      changed(true);
    });
    var opSel = el("select", { "aria-label": msg.op, "data-role": "op" });
    (f ? f.ops : [cond.op]).forEach(function (op) { opSel.appendChild(option(op, cfg.ops[op] || op, op === cond.op)); });
    opSel.addEventListener("change", function () {
      var before = cond.op;
      cond.op = opSel.value;
      if (MULTI[before] !== MULTI[cond.op] || cond.op === "between" || before === "between" || NO_VALUE[cond.op] ||
          NO_VALUE[before] || DAYS[cond.op] !== DAYS[before]) {
        cond.value = defaultValue(f, cond.op);
      }
      changed(true);
    });
    var remove = el("button", { type: "button", "class": "link", text: msg.remove, "data-action": "remove" });
    remove.addEventListener("click", function () {
      parent.children.splice(parent.children.indexOf(cond), 1);
      changed(true);
    });
    li.appendChild(fieldSel);
    li.appendChild(opSel);
    li.appendChild(valueInputs(cond, f, function () { changed(false); }));
    li.appendChild(remove);
    li.appendChild(el("small", { "class": "error", "data-error-for": path }));
    return li;
  }
  function renderGroup(group, parent, path) {
    var box = el("div", { "class": "card", "data-path": path });
    var head = el("div", { "class": "toolbar" });
    var kind = el("select", { "aria-label": msg.all, "data-role": "group-kind" });
    ["all", "any", "not"].forEach(function (k) { kind.appendChild(option(k, msg[k], k === group.kind)); });
    kind.addEventListener("change", function () {
      group.kind = kind.value;
      if (group.kind === "not" && group.children.length > 1) {
        group.children = [{ kind: "all", children: group.children }];
      }
      changed(true);
    });
    head.appendChild(kind);
    var canAdd = group.kind !== "not" || group.children.length === 0;
    if (canAdd) {
      var addC = el("button", { type: "button", text: "+ " + msg.add_condition, "data-action": "add-condition" });
      addC.addEventListener("click", function () { group.children.push(newCondition()); changed(true); });
      var addG = el("button", { type: "button", text: "+ " + msg.add_group, "data-action": "add-group" });
      addG.addEventListener("click", function () { group.children.push({ kind: "any", children: [newCondition()] }); changed(true); });
      head.appendChild(addC);
      head.appendChild(addG);
    }
    if (parent) {
      var rm = el("button", { type: "button", "class": "link", text: msg.remove, "data-action": "remove-group" });
      rm.addEventListener("click", function () { parent.children.splice(parent.children.indexOf(group), 1); changed(true); });
      head.appendChild(rm);
    }
    head.appendChild(el("small", { "class": "error", "data-error-for": path === "rules" ? "rules" : path }));
    box.appendChild(head);
    var ul = el("ul", { "class": "tree" });
    group.children.forEach(function (child, i) {
      var p = childPath(path, group.kind, i);
      if (child.kind) {
        var li = el("li");
        li.appendChild(renderGroup(child, group, p));
        ul.appendChild(li);
      } else {
        ul.appendChild(renderCondition(child, group, p));
      }
    });
    box.appendChild(ul);
    return box;
  }

  // -- sync and live count ---------------------------------------------------------------------------------------
  var timer = null;
  var seq = 0;
  function changed(rerender) {
    textarea.value = JSON.stringify(serialize(root), null, 2);
    if (rerender) { render(); }
    schedule();
  }
  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(count, 400);
  }
  function showErrors(errs) {
    mount.querySelectorAll("[data-error-for]").forEach(function (n) { n.textContent = ""; });
    var unplaced = [];
    Object.keys(errs || {}).forEach(function (path) {
      var target = null;
      var p = path;
      while (p && !target) {
        target = mount.querySelector('[data-error-for="' + p.replace(/"/g, "") + '"]');
        if (!target) {
          var cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
          p = cut > 0 ? p.slice(0, cut) : (p !== "rules" ? "rules" : "");
        }
      }
      if (target) { target.textContent = (target.textContent ? target.textContent + " " : "") + errs[path]; } else { unplaced.push(errs[path]); }
    });
    return unplaced;
  }
  function count() {
    var mine = ++seq;
    var body = { rules: serialize(root) };
    if (channelEl && channelEl.value) { body.channel = channelEl.value; }
    countEl.textContent = msg.checking;
    fetch(cfg.preview_url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfEl ? csrfEl.value : "" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().then(function (data) { return { status: resp.status, data: data }; });
    }).then(function (res) {
      if (mine !== seq) { return; }
      if (res.status === 200) {
        showErrors({});
        var text = res.data.included.toLocaleString() + " " + msg.matching;
        if (res.data.channel) {
          text = res.data.total.toLocaleString() + " " + msg.matching + " · " + res.data.included.toLocaleString() + " " +
            msg.contactable;
        }
        countEl.textContent = text;
      } else if (res.status === 422) {
        var rest = showErrors(res.data.fields);
        countEl.textContent = msg.invalid + (rest.length ? " " + rest.join(" ") : "");
      } else {
        countEl.textContent = msg.failed;
      }
    }).catch(function () { if (mine === seq) { countEl.textContent = msg.failed; } });
  }

  function start() {
    var parsed = parse();
    if (!parsed || !parsed.kind) {
      if (parsed && !parsed.kind) { parsed = { kind: "all", children: [parsed] }; } else { return; }
    }
    root = parsed;
    // The JSON stays available (and is what the form posts), folded away under the builder.
    var rulesField = document.getElementById("rules-field");
    var details = el("details");
    details.appendChild(el("summary", { text: rulesField.querySelector("label").textContent }));
    rulesField.parentNode.insertBefore(details, rulesField);
    details.appendChild(rulesField);
    textarea.addEventListener("change", function () {
      var again = parse();
      if (again && again.kind) { root = again; render(); schedule(); }
    });
    if (channelEl) { channelEl.addEventListener("change", schedule); }
    mount.hidden = false;
    render();
    schedule();
  }
  start();
})();
