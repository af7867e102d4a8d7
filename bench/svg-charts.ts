/** Small hand-made SVG charts for docs/benchmarks.md (no plotting dependency). */

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function barChart(title: string, unit: string, bars: { label: string; value: number; color?: string }[]): string {
  const w = 640;
  const h = 60 + bars.length * 36;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rows = bars
    .map((b, i) => {
      const y = 44 + i * 36;
      const len = Math.max(1, (b.value / max) * 380);
      return `<text x="10" y="${y + 17}" font-size="13">${esc(b.label)}</text><rect x="200" y="${y}" width="${len.toFixed(1)}" height="24" fill="${b.color ?? '#3b6ea5'}"/><text x="${(205 + len).toFixed(1)}" y="${y + 17}" font-size="13">${b.value.toLocaleString('en-GB')} ${esc(unit)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="24" font-size="16" font-weight="bold">${esc(title)}</text>${rows}</svg>\n`;
}

export function histogram(title: string, samples: number[], bins = 24): string {
  const w = 640;
  const h = 300;
  if (samples.length === 0) return barChart(title, '', []);
  const sorted = [...samples].sort((a, b) => a - b);
  const hi = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.995))] || 1;
  const width = hi / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const s of samples) counts[Math.min(bins - 1, Math.floor(s / width))]++;
  const max = Math.max(...counts);
  const bw = (w - 80) / bins;
  const rects = counts
    .map((c, i) => {
      const bh = (c / max) * (h - 90);
      return `<rect x="${(60 + i * bw).toFixed(1)}" y="${(h - 40 - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="#3b6ea5"/>`;
    })
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<text x="${(60 + f * (w - 80)).toFixed(1)}" y="${h - 20}" font-size="11" text-anchor="middle">${(f * hi).toFixed(1)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="24" font-size="16" font-weight="bold">${esc(title)}</text>${rects}${ticks}<text x="${w / 2}" y="${h - 4}" font-size="12" text-anchor="middle">milliseconds (${samples.length} samples)</text></svg>\n`;
}

export function lineChart(title: string, xLabel: string, yLabel: string, points: { x: number; y: number }[]): string {
  const w = 640;
  const h = 300;
  if (points.length === 0) return barChart(title, '', []);
  const maxX = Math.max(...points.map((p) => p.x)) || 1;
  const maxY = Math.max(...points.map((p) => p.y)) || 1;
  const px = (x: number): number => 60 + (x / maxX) * (w - 90);
  const py = (y: number): number => h - 40 - (y / maxY) * (h - 90);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
  const dots = points.map((p) => `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="4" fill="#3b6ea5"/><text x="${px(p.x).toFixed(1)}" y="${(py(p.y) - 8).toFixed(1)}" font-size="11" text-anchor="middle">${p.y}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="24" font-size="16" font-weight="bold">${esc(title)}</text><path d="${path}" fill="none" stroke="#3b6ea5" stroke-width="2"/>${dots}<text x="${w / 2}" y="${h - 8}" font-size="12" text-anchor="middle">${esc(xLabel)} (max ${maxX.toLocaleString('en-GB')})</text><text x="14" y="${h / 2}" font-size="12" transform="rotate(-90 14 ${h / 2})" text-anchor="middle">${esc(yLabel)}</text></svg>\n`;
}
