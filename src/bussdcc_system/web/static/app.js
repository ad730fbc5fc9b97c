/* bussdcc-system dashboard: apply Socket.IO patches to the server-rendered page, draw
   history charts and the power timeline on canvas. No framework, no chart library:
   every value arrives already formatted by the server (see view.py); this file only
   places it, and formats chart axes the way bussdcc_system.formatting writes values
   (sizes in binary units, 24-hour times in the daemon's time zone, English day names). */
(function () {
  "use strict";
  var boot = JSON.parse(document.getElementById("boot").textContent);
  var view = { t: boot.t, tz: boot.tz || 0 };
  var index = {};
  var charts = [];
  var range = "1h";
  var SPANS = { "1h": 3600, "24h": 86400, "7d": 604800 };
  var RANGE_WORDS = { "1h": "the last hour", "24h": "the last day", "7d": "the last week" };
  var POINTS = boot.kiosk ? 90 : 120;
  var connEl = document.getElementById("conn");
  var offlineEl = document.getElementById("offline");

  /* -- how values read: the same as bussdcc_system.formatting -- */
  var DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function hostDate(t) { return new Date((t + (view.tz || 0)) * 1000); }  // read with getUTC*
  function hm(t) {
    var d = hostDate(t);
    return two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }
  function hms(t) { return hm(t) + ":" + two(hostDate(t).getUTCSeconds()); }
  function dayHm(t) { return DAYS[hostDate(t).getUTCDay()] + " " + hm(t); }
  function size(n) {
    n = Math.max(0, Math.floor(n));
    if (n < 1024) return n + " B";
    var units = ["KiB", "MiB", "GiB", "TiB", "PiB"], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    if (n.toFixed(1) === "1024.0" && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(1) + " " + units[i];
  }
  function frequency(hz) {
    if (hz >= 1e9) return (hz / 1e9).toFixed(1) + " GHz";
    if (hz >= 1e6) return (hz / 1e6).toFixed(0) + " MHz";
    return (hz / 1e3).toFixed(0) + " kHz";
  }
  var FORMATS = {
    "%": function (x) { return x.toFixed(1) + " %"; },
    "°C": function (x) { return x.toFixed(1) + " °C"; },
    "B/s": function (x) { return size(x) + "/s"; },
    "B": size,
    "MHz": function (x) { return frequency(x * 1e6); },
    "": function (x) { return x.toFixed(2); }
  };
  function fmt(unit, x) { return (FORMATS[unit] || FORMATS[""])(x); }
  /* An axis label: whole percent and degrees ("100 %"), the rest as values read. */
  function axis(unit, x) {
    if (unit === "%") return x.toFixed(0) + " %";
    if (unit === "°C") return x.toFixed(0) + " °C";
    return fmt(unit, x);
  }
  /* The axis top: 1, 2, 2.5 or 5 times a power of ten (of 1024 for bytes) above x. */
  function nice(x, unit) {
    if (unit === "B" || unit === "B/s") {
      var k = Math.pow(1024, Math.max(0, Math.floor(Math.log(x) / Math.log(1024))));
      return k * nice(x / k, "");
    }
    var base = Math.pow(10, Math.floor(Math.log(x) / Math.LN10));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * base >= x) return steps[i] * base;
    return 10 * base;
  }

  /* -- applying values by key -- */
  function reindex() {
    index = {};
    var els = document.querySelectorAll("[data-k]");
    for (var i = 0; i < els.length; i++) {
      var k = els[i].getAttribute("data-k");
      (index[k] = index[k] || []).push(els[i]);
    }
  }

  function item(parts, sev) {
    var li = document.createElement("li");
    if (sev) li.setAttribute("data-sev", sev);
    parts.forEach(function (p) { li.appendChild(p); });
    return li;
  }
  function node(tag, text) { var e = document.createElement(tag); e.textContent = text; return e; }
  function setList(el, items, kind) {
    var frag = document.createDocumentFragment();
    (items || []).forEach(function (x) {
      if (kind === "rows") frag.appendChild(item([node("span", x[0]), node("span", x[1])]));
      else if (kind === "log") {
        frag.appendChild(item([node("time", x[0]), document.createTextNode(" " + x[2])], x[1]));
      } else frag.appendChild(node("li", x));
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
    el.setAttribute("aria-label", values.map(function (v, i) {
      return "core " + i + " " + Math.round(v || 0) + " %";
    }).join(" · "));
  }

  function set(key, value) {
    var els = index[key];
    if (!els) return;
    for (var i = 0; i < els.length; i++) {
      var el = els[i], t = el.getAttribute("data-t");
      if (el.tagName === "METER") el.value = value || 0;
      else if (t === "list" || t === "rows" || t === "log") setList(el, value, t);
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
    if (!offlineEl) return;
    offlineEl.hidden = state === "live" || state === "connecting";
    if (state === "down") {
      offlineEl.textContent = "reconnecting… the values shown are from " + hms(view.t || 0);
    } else if (state === "error") offlineEl.textContent = text;
  }

  /* -- charts: buckets of min/avg/max per slot, extended live by pushes -- */
  function Chart(fig) {
    this.fig = fig;
    this.canvas = fig.querySelector("canvas");
    this.none = fig.querySelector(".none");
    this.metrics = fig.getAttribute("data-metric").split(" ");
    this.keys = fig.getAttribute("data-live").split(" ");
    this.unit = fig.getAttribute("data-unit");
    this.label = fig.getAttribute("data-label");
    this.max = fig.hasAttribute("data-max") ? +fig.getAttribute("data-max") : null;
    this.ref = fig.getAttribute("data-ref");
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
    if (!b) { s[slot] = { lo: lo, hi: hi, sum: avg * n, n: n, last: avg, t: t }; return; }
    b.lo = Math.min(b.lo, lo); b.hi = Math.max(b.hi, hi); b.sum += avg * n; b.n += n;
    if (t >= b.t) { b.last = avg; b.t = t; }
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
  Chart.prototype.points = function (start) {
    var step = this.step, lo = Infinity, hi = -Infinity;
    var pts = this.series.map(function (s) {
      var out = [];
      Object.keys(s).forEach(function (slot) {
        var t = slot * step + step / 2, b = s[slot];
        if (t < start) { delete s[slot]; return; }
        out.push({ t: t, lo: b.lo, hi: b.hi, avg: b.sum / b.n, last: b.last });
        lo = Math.min(lo, b.lo); hi = Math.max(hi, b.hi);
      });
      out.sort(function (a, b) { return a.t - b.t; });
      return out;
    });
    return { pts: pts, lo: lo, hi: hi };
  };
  /* The chart in words, for screen readers (and tests): now, lowest, highest. */
  Chart.prototype.describe = function (pts) {
    var self = this, names = (this.fig.getAttribute("data-names") || "").split(" ");
    var parts = pts.map(function (p, i) {
      if (!p.length) return null;
      var lo = Infinity, hi = -Infinity;
      p.forEach(function (x) { lo = Math.min(lo, x.lo); hi = Math.max(hi, x.hi); });
      var head = pts.length > 1 && names[i] ? names[i] + " " : "";
      return head + "now " + fmt(self.unit, p[p.length - 1].last) + ", lowest " +
        fmt(self.unit, lo) + ", highest " + fmt(self.unit, hi);
    }).filter(function (x) { return x; });
    var what = this.label + " over " + RANGE_WORDS[range] + ": ";
    return what + (parts.length ? parts.join("; ") : "no readings recorded");
  };
  Chart.prototype.draw = function () {
    var c = this.canvas, dpr = window.devicePixelRatio || 1;
    var missing = this.none && this.none.textContent;
    if (missing) { c.setAttribute("aria-label", this.label + ": " + missing); return; }
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
    var data = this.points(start), pts = data.pts, lo = data.lo, hi = data.hi, self = this;
    c.setAttribute("aria-label", this.describe(pts));
    // Labels scale with the page's type (the kiosk sizes it from the screen).
    var font = Math.max(10, Math.min(parseFloat(css.fontSize) * 0.9, h / 6));
    g.font = font + "px system-ui, sans-serif";
    g.fillStyle = ink; g.strokeStyle = ink;
    if (lo === Infinity) {
      g.textAlign = "center"; g.textBaseline = "middle";
      g.fillText(this.note || "no readings recorded in " + RANGE_WORDS[range], w / 2, h / 2);
      return;
    }
    var ref = this.ref && typeof view[this.ref] === "number" ? view[this.ref] : null;
    var ymin = this.unit === "°C" ? Math.min(30, Math.floor(lo / 10) * 10) : 0;
    var ymax = this.max !== null ? this.max : ref !== null ? Math.max(ref, hi) :
      this.unit === "°C" ? Math.max(60, Math.ceil(hi * 1.05 / 10) * 10) :
      nice(Math.max(hi * 1.1, 1), this.unit);
    var left = 4, right = w - 4, top = font + 6, bottom = h - font - 6;
    var X = function (t) { return left + (t - start) / self.span * (right - left); };
    var Y = function (v) { return bottom - (v - ymin) / (ymax - ymin) * (bottom - top); };
    g.globalAlpha = 0.25; g.lineWidth = 1;
    [ymin, (ymin + ymax) / 2, ymax].forEach(function (v) {
      g.beginPath(); g.moveTo(left, Y(v)); g.lineTo(right, Y(v)); g.stroke();
    });
    g.globalAlpha = 1;
    g.textAlign = "left"; g.textBaseline = "bottom";
    if (ref === null) g.fillText(axis(this.unit, ymax), left, top - 2);
    g.textBaseline = "top";
    var when = this.span > 86400 ? dayHm : hm;
    g.fillText(when(start), left, bottom + 3);
    g.textAlign = "center";
    var middle = start + this.span / 2;
    if (right - left > font * 16) g.fillText(when(middle), (left + right) / 2, bottom + 3);
    g.textAlign = "right";
    g.fillText("now", right, bottom + 3);
    if (ref !== null) {
      g.setLineDash([4, 4]); g.globalAlpha = 0.7;
      g.beginPath(); g.moveTo(left, Y(ref)); g.lineTo(right, Y(ref)); g.stroke();
      g.setLineDash([]); g.globalAlpha = 1;
      g.textBaseline = "bottom";
      g.fillText("max " + axis(this.unit, ref), right, Y(ref) - 2);
    }
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
      g.globalAlpha = 1; g.lineWidth = Math.max(2, font / 7); g.lineJoin = "round";
      g.beginPath();
      for (var k = 0; k < p.length; k++) {
        var x = X(p[k].t), y = Y(p[k].avg);
        if (k === 0 || p[k].t - p[k - 1].t > gap) g.moveTo(x, y); else g.lineTo(x, y);
        if (p.length === 1 || (k + 1 < p.length && p[k + 1].t - p[k].t > gap) &&
            (k === 0 || p[k].t - p[k - 1].t > gap)) {
          var d = g.lineWidth;  // a lone bucket: a dot as wide as the line
          g.fillRect(x - d, y - d, 2 * d, 2 * d);
        }
      }
      g.stroke();
    });
  };

  function loadCharts() { charts.forEach(function (c) { c.load(); }); }

  /* -- power episodes (history): the server sends each one in words -- */
  var EPISODE_RECHECK_MS = 6000;
  var EPISODE_REFRESH_MS = 30000;
  var WEEK = 7 * 86400;
  var episodes = boot.episodes || [];
  function cell(text) { return node("td", text); }
  function showEpisodes(list) {
    var tbody = document.querySelector("#episodes tbody");
    if (!tbody) return;
    var frag = document.createDocumentFragment();
    list.forEach(function (e) {
      var w = e.words;
      if (!w) return;
      var tr = document.createElement("tr");
      if (!w.observed) tr.className = "unseen";
      [w.what, w.start, w.end, w.lasted].forEach(function (x) { tr.appendChild(cell(x)); });
      frag.appendChild(tr);
    });
    if (!frag.childNodes.length) {
      var none = cell("no under-voltage or throttling recorded");
      none.colSpan = 4; none.className = "small";
      var tr = document.createElement("tr"); tr.appendChild(none); frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    episodes = list.map(function (e) {
      return [e.kind, e.start, e.end, e.words ? e.words.observed : true];
    });
    drawTimeline();
  }
  function loadEpisodes() {
    if (!document.getElementById("episodes")) return;
    fetch("/api/power/episodes?days=7").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) showEpisodes(body.episodes); })
      .catch(function () {});
  }
  /* Seven days, one lane per flag: an observed episode is a solid bar from its start to
     its end; one known only from the sticky bits is an outline over the span it lies
     somewhere in (the table below says the same in words). */
  var LANES = [["under_voltage", "under-voltage", "--crit"], ["freq_capped", "capped", "--warn"],
               ["throttled", "throttled", "--warn"], ["soft_temp_limit", "soft limit", "--warn"]];
  function drawTimeline() {
    var c = document.getElementById("timeline");
    if (!c) return;
    var dpr = window.devicePixelRatio || 1, w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    var g = c.getContext("2d"), css = getComputedStyle(c);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var font = Math.max(10, parseFloat(css.fontSize) * 0.85);
    g.font = font + "px system-ui, sans-serif";
    var ink = css.getPropertyValue("--muted") || "#888";
    var now = Math.max(view.t || 0, Date.now() / 1000 - 5), start = now - WEEK;
    g.fillStyle = ink;
    var labelW = 0;
    LANES.forEach(function (l) { labelW = Math.max(labelW, g.measureText(l[1]).width); });
    var left = labelW + 8, right = w - 4, axis = h - font - 4, lane = (axis - 2) / LANES.length;
    var X = function (t) { return left + (Math.max(t, start) - start) / WEEK * (right - left); };
    g.textBaseline = "middle"; g.textAlign = "right";
    LANES.forEach(function (l, i) { g.fillText(l[1], labelW + 2, 2 + lane * (i + 0.5)); });
    // Day boundaries at the daemon's local midnight, with the day's name.
    g.globalAlpha = 0.3; g.strokeStyle = ink; g.lineWidth = 1;
    var first = Math.ceil((start + view.tz) / 86400) * 86400 - view.tz;
    g.textAlign = "left"; g.textBaseline = "top";
    for (var d = first; d < now; d += 86400) {
      g.beginPath(); g.moveTo(X(d), 0); g.lineTo(X(d), axis); g.stroke();
      g.globalAlpha = 1;
      if (X(d) + font * 2.5 < right) g.fillText(DAYS[hostDate(d).getUTCDay()], X(d) + 2, axis + 2);
      g.globalAlpha = 0.3;
    }
    g.globalAlpha = 1; g.textAlign = "right";
    g.fillText("now", right, axis + 2);
    episodes.forEach(function (e) {
      var i = -1;
      LANES.forEach(function (l, j) { if (l[0] === e[0]) i = j; });
      if (i < 0 || (e[2] !== null && e[2] < start)) return;
      var x0 = X(e[1]), x1 = Math.max(x0 + 3, X(e[2] === null ? now : e[2]));
      var y = 2 + lane * i + lane * 0.2, hh = lane * 0.6;
      var color = css.getPropertyValue(LANES[i][2]) || "#d33";
      if (e[3]) { g.fillStyle = color; g.fillRect(x0, y, x1 - x0, hh); }
      else {
        g.strokeStyle = color; g.setLineDash([3, 3]); g.lineWidth = 1.5;
        g.strokeRect(x0, y, x1 - x0, hh); g.setLineDash([]);
      }
    });
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
      pending = setTimeout(function () {
        charts.forEach(function (c) { c.draw(); });
        drawTimeline();
      }, 100);
    });
    loadCharts();
    drawTimeline();
    if (!boot.kiosk) setInterval(loadEpisodes, EPISODE_REFRESH_MS);

    window.__dash = {
      view: function () { return view; },
      fmt: { size: size, frequency: frequency, time: hms, day: dayHm, value: fmt, axis: axis },
      chartsLoaded: function () {  // for tests: every chart drew the current range
        return charts.every(function (c) { return c.loaded === range; });
      }
    };
    if (typeof io !== "function") {
      connState("error", "live updates unavailable (socket.io client missing)");
      return;
    }
    var socket = io({ reconnectionDelay: 500, reconnectionDelayMax: 4000 });
    window.__dash.socket = socket;
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
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
