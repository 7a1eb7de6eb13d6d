/**
 * What module web halves may import: `import { PageHeader, api, call } from '@slipway/web';`
 * See web/src/MODULES.md.
 */
export { defineWebModule, type WebModule, type WebPage } from './platform/web-module';
export { api, call, authedFetch, getJson, sendJson, type ApiBody, type ApiData, type ApiQuery, type paths } from './api/client';
export { ApiError, describeRetry } from './api/errors';
export { streamSse, type SseMessage } from './api/sse';
export { openSocket } from './api/ws';
export { uploadWithProgress, sha256OfFile, type UploadHandle, type UploadOptions } from './api/upload';
export { PageHeader, usePageTitle } from './components/PageHeader';
export { DataTable, PHONE_QUERY, ScrollTable, type Column, type DataTableProps } from './components/DataTable';
export { ConfirmDialog, type ConfirmDialogProps } from './components/ConfirmDialog';
export { StatusBadge } from './components/StatusBadge';
export { EmptyState } from './components/EmptyState';
export { NotFound, NoAccess, PageError } from './shell/NotFound';
export { LogViewer, type LogViewerProps } from './components/LogViewer';
export { LogBuffer, type LogLine } from './components/log-buffer';
export { JobProgress, type JobLike } from './components/JobProgress';
export { useJobLog } from './components/useJobLog';
export { useLiveLog, type LiveLog, type LiveLogEnd, type LiveLogStatus, type UseLiveLogOptions } from './components/useLiveLog';
export { JobLink, useRunJob } from './components/JobLink';
export { LatestJob } from './components/LatestJob';
export { useUrlFilters } from './components/useUrlFilters';
export { AuditTarget, targetHref, targetText } from './components/AuditTarget';
export { useLiveEvents, useLiveInvalidate, useLiveStatus, type LiveEvent } from './components/useLiveEvents';
export { UPlotChart, timeRange, type UPlotChartProps } from './components/UPlotChart';
export { icons } from './components/icons';
export { errorText, notifyError, notifySuccess } from './lib/notify';
export { fieldLabel, fieldName, issuesOf, onlyFields, otherIssuesText, useFieldErrors, type FieldIssue } from './components/fieldErrors';
export { useMe, useCan, usePageParams, useCurrentHost } from './lib/hooks';
export { formatTime, formatRelative, formatBytes } from './lib/format';
export { domainNameProblem } from './lib/hostname';
