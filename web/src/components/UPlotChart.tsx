import { Box } from '@mantine/core';
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
}

/** uPlot wrapper: loads uPlot on first use (keeps it out of the initial bundle), resizes with its box. */
export function UPlotChart({ options, data, height = 220, label }: UPlotChartProps) {
  const { ref: sizeRef, width } = useElementSize();
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    let cancelled = false;
    if (!host.current || width === 0) return;
    void Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([mod]) => {
      if (cancelled || !host.current) return;
      plot.current?.destroy();
      plot.current = new mod.default({ ...options, width, height } as uPlot.Options, data, host.current);
    });
    return () => {
      cancelled = true;
      plot.current?.destroy();
      plot.current = null;
    };
    // Re-create only when the series layout changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [options, height, width > 0]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  useEffect(() => {
    if (width > 0) plot.current?.setSize({ width, height });
  }, [width, height]);

  return (
    <Box ref={sizeRef} role="img" aria-label={label}>
      <div ref={host} />
    </Box>
  );
}
