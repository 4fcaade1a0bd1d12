// A dependency-free SVG of the training curves: loss (train, test) and accuracy (train, test)
// per epoch, side by side. Rewritten after every epoch.

export interface CurvePoint {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  trainAcc: number;
  testAcc: number;
}

interface Series {
  name: string;
  color: string;
  values: [number, number][];
}

function panel(
  x0: number,
  title: string,
  series: Series[],
  yLabel: (v: number) => string,
  w: number,
  h: number,
  xLabel = 'epoch',
): string {
  const pad = { l: 52, r: 12, t: 28, b: 34 };
  const all = series.flatMap((s) => s.values).filter(([, y]) => Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs);
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (!Number.isFinite(yMin)) [yMin, yMax] = [0, 1];
  if (yMax - yMin < 1e-9) yMax = yMin + 1;
  const span = yMax - yMin;
  yMin -= span * 0.05;
  yMax += span * 0.05;
  const px = (x: number) => x0 + pad.l + ((x - xMin) / (xMax - xMin)) * (w - pad.l - pad.r);
  const py = (y: number) => pad.t + (1 - (y - yMin) / (yMax - yMin)) * (h - pad.t - pad.b);
  let out = `<text x="${x0 + w / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${title}</text>`;
  out +=
    `<rect x="${x0 + pad.l}" y="${pad.t}" width="${w - pad.l - pad.r}" height="${h - pad.t - pad.b}" ` +
    'fill="none" stroke="#999"/>';
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    out += `<text x="${x0 + pad.l - 4}" y="${py(v) + 4}" text-anchor="end" font-size="10">${yLabel(v)}</text>`;
    out += `<line x1="${x0 + pad.l}" x2="${x0 + w - pad.r}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`;
  }
  const ticks = Math.min(10, Math.ceil(xMax - xMin));
  for (let i = 0; i <= ticks; i++) {
    const v = xMin + ((xMax - xMin) * i) / ticks;
    out += `<text x="${px(v)}" y="${h - pad.b + 14}" text-anchor="middle" font-size="10">${Math.round(v)}</text>`;
  }
  out += `<text x="${x0 + w / 2}" y="${h - 4}" text-anchor="middle" font-size="11">${xLabel}</text>`;
  series.forEach((s, i) => {
    const pts = s.values.filter(([, y]) => Number.isFinite(y));
    if (pts.length) {
      const points = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      out += `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`;
      for (const [x, y] of pts)
        out += `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`;
    }
    out += `<text x="${x0 + pad.l + 8}" y="${pad.t + 14 + i * 14}" font-size="11" fill="${s.color}">${s.name}</text>`;
  });
  return out;
}

export function curvesSvg(points: CurvePoint[], title = 'ResNet20 on CIFAR-10'): string {
  const w = 420;
  const h = 300;
  const loss = panel(
    0,
    'loss',
    [
      { name: 'train', color: '#1f77b4', values: points.map((p) => [p.epoch, p.trainLoss]) },
      { name: 'test', color: '#d62728', values: points.map((p) => [p.epoch, p.testLoss]) },
    ],
    (v) => v.toFixed(2),
    w,
    h,
  );
  const acc = panel(
    w,
    'accuracy %',
    [
      { name: 'train', color: '#1f77b4', values: points.map((p) => [p.epoch, p.trainAcc * 100]) },
      { name: 'test', color: '#d62728', values: points.map((p) => [p.epoch, p.testAcc * 100]) },
    ],
    (v) => v.toFixed(1),
    w,
    h,
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * w}" height="${h}" font-family="sans-serif">` +
    `<title>${title}</title><rect width="100%" height="100%" fill="white"/>${loss}${acc}</svg>\n`
  );
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/** One panel of named curves over any x (steps, epochs), for models other than ResNet20 (the examples). */
export function lineChartSvg(
  title: string,
  xLabel: string,
  series: { name: string; values: [number, number][] }[],
): string {
  const w = 560;
  const h = 320;
  const body = panel(
    0,
    title,
    series.map((s, i) => ({ ...s, color: COLORS[i % COLORS.length] })),
    (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)),
    w,
    h,
    xLabel,
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">` +
    `<title>${title}</title><rect width="100%" height="100%" fill="white"/>${body}</svg>\n`
  );
}
