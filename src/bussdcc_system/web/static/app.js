/* bussdcc-system dashboard: apply Socket.IO patches to the server-rendered page, draw
   history charts on canvas. No framework, no chart library: every value arrives already
   formatted by the server (see view.py); this file only places it. */
(function () {
  "use strict";
  var boot = JSON.parse(document.getElementById("boot").textContent);
  var view = {};
  var index = {};
  var charts = [];
  var range = boot.kiosk ? "1h" : "1h";
  var SPANS = { "1h": 3600, "24h": 86400, "7d": 604800 };
  var POINTS = boot.kiosk ? 90 : 150;
  var connEl = document.getElementById("conn");
  var offlineEl = document.getElementById("offline");

  function reindex() {
    index = {};
    var els = document.querySelectorAll("[data-k]");
    for (var i = 0; i < els.length; i++) {
      var k = els[i].getAttribute("data-k");
      (index[k] = index[k] || []).push(els[i]);
    }
  }

  function setList(el, items) {
    var frag = document.createDocumentFragment();
    (items || []).forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      frag.appendChild(li);
    });
    el.replaceChildren(frag);
  }

  function setCores(el, values) {
    values = values || [];
    var meters = el.children;
    if (meters.length !== values.length) {
      el.replaceChildren();
      values.forEach(function (_v, i) {
        var m = document.createElement("meter");
        m.min = 0; m.max = 100; m.low = 70; m.high = 90; m.optimum = 0;
        m.title = "core " + i;
        el.appendChild(m);
      });
    }
    values.forEach(function (v, i) { meters[i].value = v || 0; });
  }

  function set(key, value) {
    var els = index[key];
    if (!els) return;
    for (var i = 0; i < els.length; i++) {
      var el = els[i], t = el.getAttribute("data-t");
      if (el.tagName === "METER") el.value = value || 0;
      else if (t === "list") setList(el, value);
      else if (t === "cores") setCores(el, value);
      else if (t === "lvl") el.setAttribute("data-lvl", value || "unknown");
      else el.textContent = value === null || value === undefined ? "–" : value;
    }
  }

  function apply(changes, removed) {
    var layoutChanged = false;
    Object.keys(changes).forEach(function (k) {
      if (k === "layout" && JSON.stringify(changes[k]) !== JSON.stringify(boot.layout)) {
        layoutChanged = true;
      }
      view[k] = changes[k];
      set(k, changes[k]);
    });
    (removed || []).forEach(function (k) { delete view[k]; set(k, null); });
    if (layoutChanged) { location.reload(); return; }
    if ("t" in changes) charts.forEach(function (c) { c.live(view.t); });
    if ("pw.level" in changes && !boot.kiosk) {
      // Episodes come from the history files, which the sink flushes every few seconds:
      // ask now and again once the flush that records this change has happened.
      loadEpisodes();
      setTimeout(loadEpisodes, EPISODE_RECHECK_MS);
    }
  }

  function connState(state, text) {
    connEl.setAttribute("data-state", state);
    connEl.textContent = text;
    document.documentElement.classList.toggle("stale", state !== "live");
    if (offlineEl) offlineEl.hidden = state === "live";
  }

  /* -- formatting for chart axes (the values themselves come formatted) -- */
  function fmtBytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i && n < 10 ? n.toFixed(1) : Math.round(n)) + " " + units[i] + "/s";
  }
  function fmt(unit, n) {
    if (unit === "B/s") return fmtBytes(n);
    return (Math.abs(n) < 10 && n !== 0 ? n.toFixed(1) : Math.round(n)) + (unit === "%" ? " %" : " " + unit);
  }
  function clock(t, span) {
    var d = new Date(t * 1000);
    var hm = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
    if (span < 86400) return hm;
    return d.toLocaleDateString(undefined, { weekday: "short" }) + " " + hm;
  }

  /* -- charts: buckets of min/avg/max per slot, extended live by pushes -- */
  function Chart(fig) {
    this.fig = fig;
    this.canvas = fig.querySelector("canvas");
    this.metrics = fig.getAttribute("data-metric").split(" ");
    this.keys = fig.getAttribute("data-live").split(" ");
    this.unit = fig.getAttribute("data-unit");
    this.max = fig.hasAttribute("data-max") ? +fig.getAttribute("data-max") : null;
    this.series = this.keys.map(function () { return {}; });
    this.note = "";
  }
  Chart.prototype.reset = function (span) {
    this.loaded = null;
    this.span = span;
    this.step = span / POINTS;
    this.series = this.keys.map(function () { return {}; });
  };
  Chart.prototype.add = function (i, t, lo, avg, hi, n) {
    var slot = Math.floor(t / this.step), s = this.series[i], b = s[slot];
    if (!b) { s[slot] = { lo: lo, hi: hi, sum: avg * n, n: n }; return; }
    b.lo = Math.min(b.lo, lo); b.hi = Math.max(b.hi, hi); b.sum += avg * n; b.n += n;
  };
  Chart.prototype.load = function () {
    var self = this, want = range;
    self.reset(SPANS[want]);
    return Promise.all(self.metrics.map(function (metric) {
      var url = "/api/history?metric=" + encodeURIComponent(metric) + "&range=" + range +
        "&points=" + POINTS;
      return fetch(url).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.message || r.statusText);
          return body;
        });
      });
    })).then(function (bodies) {
      // The server's buckets are aligned to multiples of its step: use the same slots.
      if (range !== want) return;  // the user picked another range meanwhile
      if (bodies[0].step > 0) self.step = bodies[0].step;
      self.series = self.keys.map(function () { return {}; });
      bodies.forEach(function (body, i) {
        body.buckets.forEach(function (b) {
          if (b.count > 0 && b.avg !== null) self.add(i, b.t, b.min, b.avg, b.max, b.count);
        });
      });
      self.note = "";
    }).catch(function (err) {
      self.note = "history unavailable: " + err.message;
    }).then(function () {
      self.end = Math.max(self.end || 0, Date.now() / 1000);
      self.draw();
      if (range === want) self.loaded = want;
    });
  };
  Chart.prototype.live = function (t) {
    var self = this;
    if (!self.step) return;
    self.keys.forEach(function (k, i) {
      var v = view[k];
      if (typeof v === "number") self.add(i, t, v, v, v, 1);
    });
    self.end = Math.max(self.end || 0, t);
    self.draw();
  };
  Chart.prototype.draw = function () {
    var c = this.canvas, dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    }
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var css = getComputedStyle(this.fig);
    var ink = css.getPropertyValue("--muted") || "#888";
    var end = this.end || Date.now() / 1000, start = end - this.span, step = this.step;
    var lo = Infinity, hi = -Infinity, self = this;
    var pts = this.series.map(function (s) {
      var out = [];
      Object.keys(s).forEach(function (slot) {
        var t = slot * step + step / 2, b = s[slot];
        if (t < start) { delete s[slot]; return; }
        out.push({ t: t, lo: b.lo, hi: b.hi, avg: b.sum / b.n });
        lo = Math.min(lo, b.lo); hi = Math.max(hi, b.hi);
      });
      out.sort(function (a, b) { return a.t - b.t; });
      return out;
    });
    var font = Math.max(10, Math.min(14, h / 9));
    g.font = font + "px system-ui, sans-serif";
    g.fillStyle = ink; g.strokeStyle = ink;
    if (lo === Infinity) {
      g.textAlign = "center";
      g.fillText(this.note || "waiting for data…", w / 2, h / 2);
      return;
    }
    var ymin = this.unit === "°C" ? Math.min(30, Math.floor(lo / 10) * 10) : 0;
    var ymax = this.max !== null ? this.max : Math.max(hi * 1.15, this.unit === "°C" ? 60 : 1);
    var left = 4, right = w - 4, top = font + 4, bottom = h - font - 6;
    var X = function (t) { return left + (t - start) / self.span * (right - left); };
    var Y = function (v) { return bottom - (v - ymin) / (ymax - ymin) * (bottom - top); };
    g.globalAlpha = 0.25; g.lineWidth = 1;
    [ymin, (ymin + ymax) / 2, ymax].forEach(function (v) {
      g.beginPath(); g.moveTo(left, Y(v)); g.lineTo(right, Y(v)); g.stroke();
    });
    g.globalAlpha = 1;
    g.textAlign = "left"; g.textBaseline = "bottom";
    g.fillText(fmt(this.unit, ymax), left, top - 2);
    g.textBaseline = "top";
    g.fillText(clock(start, this.span), left, bottom + 3);
    g.textAlign = "right";
    g.fillText("now", right, bottom + 3);
    if (this.note) {
      g.textAlign = "center"; g.textBaseline = "middle";
      g.fillText(this.note, (left + right) / 2, (top + bottom) / 2);
    }
    var gap = step * 2.5;
    pts.forEach(function (p, i) {
      var color = css.getPropertyValue(i ? "--s1" : "--s0") || "#3b82f6";
      g.fillStyle = color; g.strokeStyle = color;
      g.globalAlpha = 0.18;
      for (var j = 0; j < p.length; j++) {
        var x0 = X(p[j].t - step / 2), x1 = X(p[j].t + step / 2);
        g.fillRect(x0, Y(p[j].hi), Math.max(1, x1 - x0), Math.max(1, Y(p[j].lo) - Y(p[j].hi)));
      }
      g.globalAlpha = 1; g.lineWidth = 2; g.lineJoin = "round";
      g.beginPath();
      for (var k = 0; k < p.length; k++) {
        var x = X(p[k].t), y = Y(p[k].avg);
        if (k === 0 || p[k].t - p[k - 1].t > gap) g.moveTo(x, y); else g.lineTo(x, y);
        if (p.length === 1 || (k + 1 < p.length && p[k + 1].t - p[k].t > gap) &&
            (k === 0 || p[k].t - p[k - 1].t > gap)) g.fillRect(x - 1.5, y - 1.5, 3, 3);
      }
      g.stroke();
    });
  };

  function loadCharts() { charts.forEach(function (c) { c.load(); }); }

  /* -- power episodes (history): the server sends each one in words -- */
  var EPISODE_RECHECK_MS = 6000;
  var EPISODE_REFRESH_MS = 30000;
  function loadEpisodes() {
    var ul = document.getElementById("episodes");
    if (!ul) return;
    fetch("/api/power/episodes?days=7").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        var lines = body.episodes.map(function (e) { return e.text; })
          .filter(function (text) { return text; });
        setList(ul, lines.length ? lines : ["none recorded"]);
      }).catch(function () {});
  }

  /* -- wiring -- */
  function start() {
    reindex();
    var figs = document.querySelectorAll("figure.chart");
    for (var i = 0; i < figs.length; i++) charts.push(new Chart(figs[i]));
    var buttons = document.querySelectorAll("button[data-range]");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].addEventListener("click", function (ev) {
        range = ev.currentTarget.getAttribute("data-range");
        for (var b = 0; b < buttons.length; b++) {
          buttons[b].setAttribute("aria-pressed", String(buttons[b] === ev.currentTarget));
        }
        loadCharts();
      });
    }
    var pending = 0;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.forEach(function (c) { c.draw(); }); }, 100);
    });
    loadCharts();
    if (!boot.kiosk) setInterval(loadEpisodes, EPISODE_REFRESH_MS);

    if (typeof io !== "function") {
      connState("error", "live updates unavailable (socket.io client missing)");
      return;
    }
    var socket = io({ reconnectionDelay: 500, reconnectionDelayMax: 4000 });
    socket.on("connect", function () {
      socket.emit("hello", { build: boot.build }, function (resp) {
        if (!resp || resp.build !== boot.build) { location.reload(); return; }
        connState("live", "live");
        view = {};
        apply(resp.view, []);
      });
    });
    socket.on("s", function (patch, ack) {
      apply(patch.c || {}, patch.r);
      if (typeof ack === "function") ack();
    });
    socket.on("disconnect", function () { connState("down", "reconnecting…"); });
    socket.io.on("reconnect_attempt", function () { connState("down", "reconnecting…"); });
    window.__dash = {
      view: function () { return view; },
      socket: socket,
      chartsLoaded: function () {  // for tests: every chart drew the current range
        return charts.every(function (c) { return c.loaded === range; });
      }
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
