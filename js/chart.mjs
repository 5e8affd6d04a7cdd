// Small line charts in plain SVG: no library, no CDN, styled by CSS.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function niceTicks(lo, hi, n = 4) {
  if (hi - lo < 1e-12) { hi = lo + 1; }
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(+t.toFixed(10));
  return ticks;
}

// LineChart draws series of {x, y} points; update() redraws in place.
export class LineChart {
  constructor(container, { label, yFormat = (v) => v.toFixed(2), yMin, yMax } = {}) {
    this.svg = el("svg", { viewBox: "0 0 480 200", role: "img", "aria-label": label, class: "chart" });
    container.replaceChildren(this.svg);
    this.yFormat = yFormat;
    this.yMin = yMin;
    this.yMax = yMax;
    this.series = [];
  }

  update(series) {
    this.series = series;
    const svg = this.svg;
    svg.replaceChildren();
    const W = 480, H = 200, L = 48, R = 12, T = 12, B = 28;
    const pts = series.flatMap((s) => s.points);
    if (pts.length === 0) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" }, svg).textContent = "no data yet";
      return;
    }
    const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    let y0 = this.yMin ?? Math.min(...ys), y1 = this.yMax ?? Math.max(...ys);
    if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
    for (const t of niceTicks(y0, y1)) {
      el("line", { x1: L, x2: W - R, y1: sy(t), y2: sy(t), class: "chart-grid" }, svg);
      el("text", { x: L - 6, y: sy(t) + 4, "text-anchor": "end", class: "chart-tick" }, svg).textContent = this.yFormat(t);
    }
    for (const t of niceTicks(x0, x1, 5)) {
      el("text", { x: sx(t), y: H - 8, "text-anchor": "middle", class: "chart-tick" }, svg).textContent = String(t);
    }
    series.forEach((s, i) => {
      if (s.points.length === 0) return;
      const d = s.points.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join("");
      el("path", { d, class: `chart-line chart-line-${i}` }, svg);
      if (s.dots) for (const p of s.points) el("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, class: `chart-dot chart-line-${i}` }, svg);
    });
    svg.dataset.points = String(pts.length);
  }
}

// histogram draws bars for counts with labelled bins.
export function histogram(container, { counts, binWidth, maxLen }) {
  const W = 480, H = 120, L = 8, B = 20;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "token length histogram", class: "chart" });
  const max = Math.max(1, ...counts);
  const bw = (W - 2 * L) / counts.length;
  counts.forEach((c, i) => {
    const h = ((H - B - 6) * c) / max;
    const over = i * binWidth >= maxLen;
    const r = el("rect", { x: L + i * bw + 1, y: H - B - h, width: bw - 2, height: h, class: over ? "bar bar-over" : "bar" }, svg);
    el("title", {}, r).textContent = `${i * binWidth}–${(i + 1) * binWidth - 1}${i === counts.length - 1 ? "+" : ""} tokens: ${c} rows`;
    if (i % 2 === 0) el("text", { x: L + i * bw + bw / 2, y: H - 6, "text-anchor": "middle", class: "chart-tick" }, svg).textContent = String(i * binWidth);
  });
  container.replaceChildren(svg);
}
