import { Box, Text, useComputedColorScheme } from '@mantine/core';
import { useElementSize } from '@mantine/hooks';
import { useEffect, useRef } from 'react';
import type uPlot from 'uplot';

export interface UPlotChartProps {
  /** uPlot options without width/height (the chart fills its container's width). */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  /** Columnar data: [xs (unix seconds), ...series]. */
  data: uPlot.AlignedData;
  height?: number;
  /** Accessible description of what the chart shows. */
  label: string;
  /**
   * The time window the chart shows, in seconds, ending now (a live chart of "the last 15 min").
   * Without it a time axis spans the data, and a single point gets ten minutes around it.
   */
  windowSeconds?: number;
  /** Shown in place of the chart when there is no point at all (default: "No samples yet"). */
  empty?: string;
}

/**
 * The x range of a time chart: the requested window ending now (or at the newest point), else the
 * data's span, never less than ten minutes around a single point (uPlot's own padding of a lone
 * epoch value runs over years).
 */
export function timeRange(min: number | null, max: number | null, windowSeconds?: number, nowSeconds = Date.now() / 1000): [number, number] {
  if (windowSeconds && windowSeconds > 0) {
    const end = Math.max(nowSeconds, max ?? nowSeconds);
    return [end - windowSeconds, end];
  }
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [nowSeconds - 600, nowSeconds];
  if (max - min < 600) {
    const mid = (min + max) / 2;
    return [mid - 300, mid + 300];
  }
  return [min, max];
}

/**
 * uPlot's own range of a lone time value is that value plus 86400 / ms, which in seconds is a
 * thousand days (the "Feb 2027 to Aug 2029" of a single point): the range comes from the data's own
 * first and last x instead. A zoom (a range that is not the data's) is kept as the user chose it.
 */
function xRange(u: uPlot, min: number, max: number, windowSeconds?: number): [number, number] {
  const xs = (u.data[0] ?? []) as ArrayLike<number>;
  const first = xs.length ? xs[0]! : null;
  const last = xs.length ? xs[xs.length - 1]! : null;
  const auto = first === null || (min === first && (max === last || first === last));
  return auto ? timeRange(first, last, windowSeconds) : [min, max];
}

/** A y axis as wide as its longest tick label ("117.2 KB/s" is not cut at the left edge). */
export const fitAxisSize: uPlot.Axis.Size = (self, values, axisIdx, cycleNum) => {
  const axis = self.axes[axisIdx]! as uPlot.Axis & { _size?: number; font?: [string, number] };
  if (cycleNum > 1 && axis._size) return axis._size;
  let size = (axis.ticks?.size ?? 10) + (typeof axis.gap === 'number' ? axis.gap : 5);
  const longest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), '');
  if (longest) {
    self.ctx.font = axis.font?.[0] ?? '12px system-ui, sans-serif';
    size += self.ctx.measureText(longest).width / (typeof devicePixelRatio === 'number' ? devicePixelRatio : 1);
  }
  return Math.ceil(size) + 6;
};

/** The caller's options with the console's defaults: time range, fitted y axes, readable in both themes. */
export function chartDefaults(options: Omit<uPlot.Options, 'width' | 'height'>, windowSeconds: number | undefined, ink: string, grid: string): Omit<uPlot.Options, 'width' | 'height'> {
  const x = options.scales?.x ?? {};
  const time = x.time !== false;
  const axes = (options.axes?.length ? options.axes : [{}, {}]).map((a, i) => ({
    stroke: ink,
    grid: { stroke: grid, width: 1, ...(a.grid ?? {}) },
    ticks: { stroke: grid, width: 1, ...(a.ticks ?? {}) },
    ...a,
    ...(i > 0 && a.size === undefined ? { size: fitAxisSize } : {}),
  }));
  return {
    ...options,
    scales: { ...options.scales, x: { ...x, ...(time && !x.range ? { range: (u: uPlot, min: number, max: number) => xRange(u, min, max, windowSeconds) } : {}) } },
    axes,
  };
}

/** uPlot wrapper: loads uPlot on first use (keeps it out of the initial bundle), resizes with its box. */
export function UPlotChart({ options, data, height = 220, label, windowSeconds, empty = 'No samples yet' }: UPlotChartProps) {
  const { ref: sizeRef, width } = useElementSize();
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const scheme = useComputedColorScheme('light');
  const hasData = (data[0]?.length ?? 0) > 0;
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    let cancelled = false;
    if (!host.current || width === 0 || !hasData) return;
    void Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([mod]) => {
      if (cancelled || !host.current) return;
      plot.current?.destroy();
      const dark = scheme === 'dark';
      const opts = chartDefaults(options, windowSeconds, dark ? '#c9c9c9' : '#495057', dark ? 'rgba(255,255,255,0.12)' : 'rgba(0,0,0,0.08)');
      // What the plot drew, for tests and tools: points, the x range, whether each y axis fits its labels.
      const report = (u: uPlot) => {
        const el = host.current;
        if (!el) return;
        el.dataset.plotted = String(u.data[0]?.length ?? 0);
        el.dataset.xMin = String(Math.round(u.scales.x?.min ?? 0));
        el.dataset.xMax = String(Math.round(u.scales.x?.max ?? 0));
        el.dataset.yAxesFit = String(u.axes.slice(1).every((a) => {
          const ax = a as uPlot.Axis & { _size?: number; _values?: (string | number)[]; font?: [string, number] };
          u.ctx.font = ax.font?.[0] ?? u.ctx.font;
          const widest = Math.max(0, ...(ax._values ?? []).map((v) => u.ctx.measureText(String(v)).width / (typeof devicePixelRatio === 'number' ? devicePixelRatio : 1)));
          return (ax._size ?? 0) >= widest + (ax.ticks?.size ?? 10);
        }));
      };
      // The data of now, not of the render that started the lazy import (history may have arrived meanwhile).
      plot.current = new mod.default({ ...opts, width, height, hooks: { ...opts.hooks, draw: [...(opts.hooks?.draw ?? []), report] } } as uPlot.Options, latest.current, host.current);
    });
    return () => {
      cancelled = true;
      plot.current?.destroy();
      plot.current = null;
    };
    // Re-create only when the series layout changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [options, height, width > 0, scheme, windowSeconds, hasData]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  useEffect(() => {
    if (width > 0) plot.current?.setSize({ width, height });
  }, [width, height]);

  return (
    <Box ref={sizeRef} role="img" aria-label={label} data-points={data[0]?.length ?? 0}>
      {hasData ? <div ref={host} /> : <Text size="sm" c="dimmed" h={height} style={{ display: 'flex', alignItems: 'center', justifyContent: 'center' }}>{empty}</Text>}
    </Box>
  );
}
