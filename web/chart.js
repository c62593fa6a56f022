// A small line chart on a <canvas>: the last samples of one or two series, scaled to the
// largest value shown, in the page's colours (light or dark). Gaps (null) break the line.
export class Sparkline {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series;  // [{label, color: CSS variable name}]
    this.values = series.map(() => []);
    this.capacity = 90;
  }

  push(...values) {
    values.forEach((v, i) => {
      this.values[i].push(v === undefined || Number.isNaN(v) ? null : v);
      if (this.values[i].length > this.capacity) this.values[i].shift();
    });
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const style = getComputedStyle(c);
    let max = 0;
    for (const vs of this.values) for (const v of vs) if (v !== null && v > max) max = v;
    max = max <= 0 ? 1 : max * 1.15;  // headroom: a flat series is not drawn on the top edge
    ctx.strokeStyle = style.getPropertyValue("--grid").trim() || "#8884";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const f of [0.5, 1]) {
      const y = Math.round(h - 2 - (h - 4) * f) + 0.5;
      ctx.moveTo(0, y);
      ctx.lineTo(w, y);
    }
    ctx.stroke();
    const step = w / (this.capacity - 1);
    const xy = (vs, j) => [w - 3 - (vs.length - 1 - j) * step, h - 2 - ((h - 4) * vs[j]) / max];
    this.series.forEach((s, i) => {
      const vs = this.values[i];
      const color = style.getPropertyValue(s.color).trim() || "#36c";
      // Runs of consecutive values: a filled area under a line (the first series only).
      const runs = [];
      vs.forEach((v, j) => {
        if (v === null) return;
        if (j && vs[j - 1] !== null) runs.at(-1).push(j);
        else runs.push([j]);
      });
      for (const run of runs) {
        ctx.beginPath();
        run.forEach((j, k) => (k ? ctx.lineTo(...xy(vs, j)) : ctx.moveTo(...xy(vs, j))));
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.5;
        ctx.stroke();
        if (i === 0 && run.length > 1) {
          ctx.lineTo(xy(vs, run.at(-1))[0], h);
          ctx.lineTo(xy(vs, run[0])[0], h);
          ctx.closePath();
          ctx.globalAlpha = 0.15;
          ctx.fillStyle = color;
          ctx.fill();
          ctx.globalAlpha = 1;
        }
      }
      // The latest value as a dot, so a new or flat series is visible.
      const last = vs.length - 1;
      if (last >= 0 && vs[last] !== null) {
        ctx.beginPath();
        ctx.arc(...xy(vs, last), 2.5, 0, 2 * Math.PI);
        ctx.fillStyle = color;
        ctx.fill();
      }
    });
  }
}
