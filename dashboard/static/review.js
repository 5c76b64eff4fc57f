// posterqa review: comparison slider, zoom on the region, overlays, keyboard shortcuts.
// Plain JS, no build step. Everything degrades to working links and forms without it.
(function () {
  "use strict";

  var NOT_TEXT = /^(range|checkbox|radio|button|submit|reset)$/;
  function typing(ev) {  // letters typed into a text field are text, not shortcuts
    var t = ev.target;
    if (!t) return false;
    if (t.tagName === "INPUT") return !NOT_TEXT.test(t.type);
    return t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName);
  }

  // ---------- queue page: j/k select a row, Enter opens it ----------
  function initQueue() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tr.row"));
    var cur = -1;
    function select(i) {
      if (!rows.length) return;
      i = Math.max(0, Math.min(rows.length - 1, i));
      if (cur >= 0) rows[cur].classList.remove("selected");
      cur = i;
      rows[cur].classList.add("selected");
      rows[cur].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "j") { select(cur + 1); ev.preventDefault(); }
      else if (ev.key === "k") { select(cur - 1); ev.preventDefault(); }
      else if ((ev.key === "Enter" || ev.key === "o") && cur >= 0) {
        window.location.href = rows[cur].dataset.href; ev.preventDefault();
      }
    });
  }

  // ---------- repair page: stage with before/after, zoom, overlays ----------
  function parseBox(s) {
    if (!s) return null;
    var p = s.split(",").map(Number);
    return p.length === 4 && p.every(isFinite) ? p : null;
  }

  function initStage() {
    var stage = document.getElementById("stage");
    if (!stage) return null;
    var before = document.getElementById("img-before");
    var after = document.getElementById("layer-after");
    var divider = document.getElementById("divider");
    var slider = document.getElementById("slider");
    var box = parseBox(stage.dataset.box);
    var ovBox = parseBox(stage.dataset.overlayBox);
    var W = 0, H = 0, view = box ? "region" : "fit";
    var s = 1, ox = 0, oy = 0;  // screen = (image - origin) * s

    function place(el, x, y, w, h) {
      el.style.left = ((x - ox) * s) + "px";
      el.style.top = ((y - oy) * s) + "px";
      el.style.width = (w * s) + "px";
      el.style.height = (h * s) + "px";
    }
    function layout() {
      if (!W) return;
      place(before, 0, 0, W, H);
      place(document.getElementById("img-after"), 0, 0, W, H);
      stage.querySelectorAll(".pic.ov").forEach(function (el) {
        var nw = el.naturalWidth, nh = el.naturalHeight;
        var full = !ovBox || (el.tagName === "IMG" && nw === W && nh === H);
        if (full) place(el, 0, 0, W, H);
        else place(el, ovBox[0], ovBox[1], ovBox[2] - ovBox[0], ovBox[3] - ovBox[1]);
      });
      var frame = document.getElementById("boxframe");
      if (frame && box) place(frame, box[0], box[1], box[2] - box[0], box[3] - box[1]);
      stage.classList.toggle("pixelated", s >= 3);
    }
    function setView(v) {
      view = v;
      var sw = stage.clientWidth, maxH = Math.max(240, window.innerHeight * 0.7);
      if (v === "region" && box) {
        var bw = box[2] - box[0], bh = box[3] - box[1];
        var pad = Math.max(24, 0.35 * Math.max(bw, bh));
        var pw = bw + 2 * pad, ph = bh + 2 * pad;
        s = Math.min(sw / pw, maxH / ph, 8);
        stage.style.height = Math.round(Math.min(ph * s, maxH)) + "px";
        ox = (box[0] + box[2]) / 2 - sw / (2 * s);
        oy = (box[1] + box[3]) / 2 - stage.clientHeight / (2 * s);
      } else if (v === "native") {
        s = 1;
        stage.style.height = Math.round(maxH) + "px";
        var c = box ? [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2] : [W / 2, H / 2];
        ox = c[0] - sw / 2; oy = c[1] - stage.clientHeight / 2;
      } else {
        view = "fit";
        s = Math.min(sw / W, maxH / H);
        stage.style.height = Math.round(H * s) + "px";
        ox = -(sw / s - W) / 2; oy = 0;
      }
      document.querySelectorAll(".view-btn").forEach(function (b) {
        b.classList.toggle("active", b.dataset.view === view);
      });
      layout();
    }
    function setPos(pct) {
      pct = Math.max(0, Math.min(100, pct));
      after.style.clipPath = "inset(0 0 0 " + pct + "%)";
      divider.style.left = pct + "%";
      slider.value = String(pct);
    }
    function ready() {
      W = before.naturalWidth; H = before.naturalHeight;
      if (!W) return;
      stage.dataset.ready = "1";
      setView(view);
    }
    if (before.complete && before.naturalWidth) ready(); else before.addEventListener("load", ready);
    stage.querySelectorAll("img.ov").forEach(function (el) { el.addEventListener("load", layout); });
    window.addEventListener("resize", function () { if (W) setView(view); });

    slider.addEventListener("input", function () { setPos(Number(slider.value)); });
    var dragging = false;
    function fromPointer(ev) {
      var r = stage.getBoundingClientRect();
      setPos(100 * (ev.clientX - r.left) / r.width);
    }
    stage.addEventListener("pointerdown", function (ev) {
      dragging = true; stage.setPointerCapture(ev.pointerId); fromPointer(ev);
    });
    stage.addEventListener("pointermove", function (ev) { if (dragging) fromPointer(ev); });
    stage.addEventListener("pointerup", function () { dragging = false; });
    stage.addEventListener("wheel", function (ev) {
      if (!W) return;
      ev.preventDefault();
      var r = stage.getBoundingClientRect();
      var mx = ev.clientX - r.left, my = ev.clientY - r.top;
      var ix = ox + mx / s, iy = oy + my / s;
      s = Math.max(0.05, Math.min(16, s * (ev.deltaY < 0 ? 1.25 : 0.8)));
      ox = ix - mx / s; oy = iy - my / s;
      layout();
    }, { passive: false });
    document.querySelectorAll(".view-btn").forEach(function (b) {
      b.addEventListener("click", function () { setView(b.dataset.view); });
    });
    function bindToggle(id, layerId) {
      var cb = document.getElementById(id), layer = document.getElementById(layerId);
      if (!cb || !layer) return function () {};
      cb.addEventListener("change", function () { layer.hidden = !cb.checked; layout(); });
      return function () { if (!cb.disabled) { cb.checked = !cb.checked; layer.hidden = !cb.checked; layout(); } };
    }
    return {
      toggleMask: bindToggle("toggle-mask", "layer-mask"),
      toggleDiff: bindToggle("toggle-diff", "layer-diff"),
      cycleView: function () {
        var order = box ? ["region", "fit", "native"] : ["fit", "native"];
        setView(order[(order.indexOf(view) + 1) % order.length]);
      },
      nudge: function (d) { setPos(Number(slider.value) + d); },
    };
  }

  function initRepair() {
    var st = initStage();
    function click(id) { var el = document.getElementById(id); if (el) el.click(); }
    function submit(id) {
      var f = document.getElementById(id);
      if (f) { if (f.requestSubmit) f.requestSubmit(); else f.submit(); }
    }
    var comment = document.getElementById("reject-comment");
    if (comment) {
      comment.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") comment.blur();
      });
    }
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var k = ev.key, handled = true;
      if (k === "j") click("next-link");
      else if (k === "k") click("prev-link");
      else if (k === "a") submit("approve-form");
      else if (k === "r" && comment) { comment.focus(); comment.scrollIntoView({ block: "center" }); }
      else if (k === "z" && st) st.cycleView();
      else if (k === "m" && st) st.toggleMask();
      else if (k === "d" && st) st.toggleDiff();
      else if (k === "ArrowLeft" && st) st.nudge(-5);
      else if (k === "ArrowRight" && st) st.nudge(5);
      else handled = false;
      if (handled) ev.preventDefault();
    });
  }

  var page = document.body.dataset.page;
  if (page === "queue") initQueue();
  else if (page === "repair") initRepair();
  document.body.dataset.js = "ready";  // shortcuts are bound
})();
