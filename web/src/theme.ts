import { createTheme, localStorageColorSchemeManager, type CSSVariablesResolver } from '@mantine/core';
import './theme.css';

/*
 * Contrast (issue 18, item 12): small text meets 4.5:1 in both themes (WCAG AA).
 * - secondary ("dimmed") text: #5c636a on white 6.1:1 (Mantine's gray-6 was 3.3:1); #a3a3a3 on dark-7 6.2:1 (dark-2 was 4.0:1)
 * - primary buttons: indigo-7 with white text 5.0:1 (indigo-6 was 4.3:1); indigo-8 in dark 5.7:1
 * - filled badges and buttons pick black or white text by the colour's luminance (autoContrast),
 *   so white on green (2.4:1) no longer happens
 * - light badges (StatusBadge): the text shades of green, yellow, orange, teal, lime, cyan are darkened
 */
const LIGHT_TEXT: Record<string, string> = {
  green: '#1b6e2d', yellow: '#7a4a00', orange: '#a63a0b', teal: '#0b6b5a', lime: '#4a6b00', cyan: '#0b6478', gray: '#495057', indigo: '#364fc7',
};

export const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': '#5c636a',
    '--mantine-color-placeholder': '#6c737a',
    ...Object.fromEntries(Object.entries(LIGHT_TEXT).map(([c, v]) => [`--mantine-color-${c}-light-color`, v])),
  },
  dark: {
    '--mantine-color-dimmed': '#a3a3a3',
    '--mantine-color-placeholder': '#8f8f8f',
  },
});

export const theme = createTheme({
  primaryColor: 'indigo',
  primaryShade: { light: 7, dark: 8 },
  autoContrast: true,
  defaultRadius: 'md',
  focusRing: 'auto',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
});

export const colorSchemeManager = localStorageColorSchemeManager({ key: 'slipway-color-scheme' });
