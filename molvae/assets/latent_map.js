// molvae latent map: a canvas scatter plot of embedded JSON (see molvae/report.py).
// Plain JavaScript with no library and no network access, so pages work offline.
(function () {
  "use strict";
  var body = document.body;
  window.addEventListener("error", function (e) { body.setAttribute("data-js-error", String(e.message)); });
  var VIRIDIS = [[68,1,84],[72,40,120],[62,74,137],[49,104,142],[38,130,142],
                 [31,158,137],[53,183,121],[110,206,88],[181,222,43],[253,231,37]];
  function viridis(f) {
    f = Math.min(1, Math.max(0, f)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(f), VIRIDIS.length - 2), w = f - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + Math.round(a[0] + (b[0] - a[0]) * w) + "," + Math.round(a[1] + (b[1] - a[1]) * w) +
           "," + Math.round(a[2] + (b[2] - a[2]) * w) + ")";
  }
  function niceTicks(lo, hi, n) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n))), err = span / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var out = [], start = Math.ceil(lo / step) * step;
    for (var v = start; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "n/a";
    var a = Math.abs(v);
    return (a !== 0 && (a >= 1e5 || a < 1e-3)) ? v.toExponential(2) : String(Math.round(v * 1000) / 1000);
  }
  function unpack(b64) {
    if (!b64) return Promise.resolve([]);
    if (typeof DecompressionStream === "undefined")
      return Promise.reject(new Error("this browser cannot unpack the embedded structures"));
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  function setup(root) {
    var d = JSON.parse(document.getElementById(root.getAttribute("data-source")).textContent);
    var canvas = root.querySelector("canvas"), ctx = canvas.getContext("2d");
    var box = root.querySelector(".mv-structure"), smilesEl = root.querySelector(".mv-smiles");
    var table = root.querySelector(".mv-values"), n = d.x.length, svgs = null, pinned = -1;
    var cv = d.color ? d.color.values : null, cmin = Infinity, cmax = -Infinity;
    if (cv) {
      for (var k = 0; k < n; k++) {
        if (cv[k] !== null) { cmin = Math.min(cmin, cv[k]); cmax = Math.max(cmax, cv[k]); }
      }
    }
    if (!isFinite(cmin)) { cmin = 0; cmax = 1; }  // no value at all: every point is grey
    if (cmin === cmax) { cmin -= 0.5; cmax += 0.5; }
    // A loop, not Math.min.apply: spreading 100,000 arguments overflows the call stack.
    var xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    for (var q = 0; q < n; q++) {
      xmin = Math.min(xmin, d.x[q]); xmax = Math.max(xmax, d.x[q]);
      ymin = Math.min(ymin, d.y[q]); ymax = Math.max(ymax, d.y[q]);
    }
    var px = xmax - xmin || 1, py = ymax - ymin || 1;
    xmin -= px * 0.04; xmax += px * 0.04; ymin -= py * 0.04; ymax += py * 0.04;
    var M = {l: 58, r: 14, t: 14, b: 46}, W = 0, H = 0, sx = new Float64Array(n), sy = new Float64Array(n);
    var base = document.createElement("canvas"), grid = {}, CELL = 16;
    var radius = n < 1000 ? 4 : (n < 5000 ? 3 : 2);
    var order = [];
    for (var o = 0; o < n; o++) if (!cv || cv[o] === null) order.push(o);
    for (o = 0; o < n; o++) if (cv && cv[o] !== null) order.push(o);
    function layout() {
      var dpr = window.devicePixelRatio || 1;
      W = Math.max(320, canvas.parentNode.clientWidth || 640); H = Math.round(Math.min(640, W * 0.72));
      canvas.width = base.width = Math.round(W * dpr); canvas.height = base.height = Math.round(H * dpr);
      canvas.style.height = H + "px";
      var b = base.getContext("2d");
      b.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.setTransform(1, 0, 0, 1, 0, 0);
      b.fillStyle = "#fff"; b.fillRect(0, 0, W, H);
      b.strokeStyle = "#eee"; b.fillStyle = "#555"; b.font = "11px sans-serif"; b.lineWidth = 1;
      var iw = W - M.l - M.r, ih = H - M.t - M.b;
      function X(v) { return M.l + (v - xmin) / (xmax - xmin) * iw; }
      function Y(v) { return M.t + ih - (v - ymin) / (ymax - ymin) * ih; }
      b.textAlign = "center";
      niceTicks(xmin, xmax, 6).forEach(function (t) {
        var x = X(t);
        b.beginPath(); b.moveTo(x, M.t); b.lineTo(x, M.t + ih); b.stroke();
        b.fillText(fmt(t), x, M.t + ih + 14);
      });
      b.textAlign = "right";
      niceTicks(ymin, ymax, 6).forEach(function (t) {
        var y = Y(t);
        b.beginPath(); b.moveTo(M.l, y); b.lineTo(M.l + iw, y); b.stroke();
        b.fillText(fmt(t), M.l - 5, y + 4);
      });
      b.strokeStyle = "#999"; b.strokeRect(M.l, M.t, iw, ih);
      b.textAlign = "center"; b.fillStyle = "#333"; b.font = "12px sans-serif";
      b.fillText(d.axes[0], M.l + iw / 2, H - 8);
      b.save(); b.translate(14, M.t + ih / 2); b.rotate(-Math.PI / 2);
      b.fillText(d.axes[1], 0, 0); b.restore();
      grid = {};
      for (var j = 0; j < order.length; j++) {
        var i = order[j]; sx[i] = X(d.x[i]); sy[i] = Y(d.y[i]);
        b.fillStyle = (cv && cv[i] !== null) ? viridis((cv[i] - cmin) / (cmax - cmin)) : "#c4c4c4";
        b.beginPath(); b.arc(sx[i], sy[i], radius, 0, 2 * Math.PI); b.fill();
        var key = Math.floor(sx[i] / CELL) + "," + Math.floor(sy[i] / CELL);
        (grid[key] = grid[key] || []).push(i);
      }
      root.setAttribute("data-points-drawn", String(order.length));
      redraw(pinned);
    }
    function redraw(sel) {
      var dpr = window.devicePixelRatio || 1;
      ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.drawImage(base, 0, 0);
      if (sel >= 0) {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.strokeStyle = "#d1495b"; ctx.lineWidth = 2.5;
        ctx.beginPath(); ctx.arc(sx[sel], sy[sel], radius + 5, 0, 2 * Math.PI); ctx.stroke();
      }
    }
    function nearest(x, y) {
      var best = -1, bd = 12 * 12, cx = Math.floor(x / CELL), cy = Math.floor(y / CELL);
      for (var gx = cx - 1; gx <= cx + 1; gx++) for (var gy = cy - 1; gy <= cy + 1; gy++) {
        var cell = grid[gx + "," + gy]; if (!cell) continue;
        for (var j = 0; j < cell.length; j++) {
          var i = cell[j], dd = (sx[i] - x) * (sx[i] - x) + (sy[i] - y) * (sy[i] - y);
          if (dd < bd) { bd = dd; best = i; }
        }
      }
      return best;
    }
    function row(name, value) {
      var tr = document.createElement("tr"), a = document.createElement("td"), b = document.createElement("td");
      a.textContent = name; b.textContent = value; tr.appendChild(a); tr.appendChild(b); table.appendChild(tr);
    }
    function show(i) {
      root.setAttribute("data-selected-row", String(d.rows[i]));
      smilesEl.textContent = d.smiles[i];
      while (table.firstChild) table.removeChild(table.firstChild);
      row("row", String(d.rows[i]));
      if (d.color) row(d.color.name, fmt(cv[i]));
      Object.keys(d.extra).forEach(function (name) { row(name, fmt(d.extra[name][i])); });
      var s = d.structureIndex[i];
      while (box.firstChild) box.removeChild(box.firstChild);
      if (svgs && s >= 0) {
        var img = new Image();
        img.alt = d.smiles[i];
        img.onload = function () { root.setAttribute("data-structure-shown", String(img.naturalWidth)); };
        img.onerror = function () { root.setAttribute("data-structure-error", d.smiles[i]); };
        img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgs[s]);
        box.appendChild(img);
      } else {
        box.textContent = svgs === null ? "structures loading..." :
          (s >= 0 ? "" : "structure not embedded (only " + d.nStructures + " of " + n + " points carry one)");
      }
      redraw(i);
    }
    function pos(ev) { var r = canvas.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; }
    canvas.addEventListener("mousemove", function (ev) {
      if (pinned >= 0) return;
      var p = pos(ev), i = nearest(p[0], p[1]); if (i >= 0) show(i);
    });
    canvas.addEventListener("click", function (ev) {
      var p = pos(ev), i = nearest(p[0], p[1]); pinned = i; if (i >= 0) show(i); else redraw(-1);
    });
    var bar = root.querySelector(".mv-bar");
    if (bar && d.color) {
      var stops = VIRIDIS.map(function (c, j) { return "rgb(" + c.join(",") + ") " + Math.round(j / (VIRIDIS.length - 1) * 100) + "%"; });
      bar.style.background = "linear-gradient(to right," + stops.join(",") + ")";
      root.querySelector(".mv-min").textContent = fmt(cmin); root.querySelector(".mv-max").textContent = fmt(cmax);
    }
    var timer = null;
    window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(layout, 150); });
    layout();
    // map.html#row=17 opens the page with input row 17 pinned (picked like a click on it).
    var wanted = /(?:^#|&)row=(\d+)/.exec(window.location.hash);
    if (wanted) {
      var at = d.rows.indexOf(parseInt(wanted[1], 10));
      if (at >= 0) pinned = nearest(sx[at], sy[at]);
    }
    unpack(d.structures).then(function (list) {
      svgs = list; root.setAttribute("data-structures", String(list.length));
      if (n) show(pinned >= 0 ? pinned : 0);
    }, function (err) {
      svgs = []; box.textContent = String(err.message); root.setAttribute("data-structures", "error");
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".mv-map"), setup);
  // Lets automated checks see that every static figure decoded.
  window.addEventListener("load", function () {
    var imgs = document.querySelectorAll("img.figure"), ok = 0;
    Array.prototype.forEach.call(imgs, function (im) { if (im.complete && im.naturalWidth > 0) ok++; });
    body.setAttribute("data-figures", ok + "/" + imgs.length);
  });
})();
