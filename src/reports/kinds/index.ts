import { attestations } from './attestations';
import { compliance } from './compliance';
import { indicators } from './indicators';
import { exportRegistry } from './kind';

/**
 * Every kind of report Socle produces, in the order the CLI and the admin page list them. The API's and the
 * CLI's choices, the job runner's dispatch and the page's export buttons all come from here: a new kind is
 * one file next to this one and one entry below.
 */
export const reportKinds = exportRegistry([compliance, attestations, indicators]);
export type ExportKind = (typeof reportKinds.names)[number];
export type ExportFormat = (typeof reportKinds.formats)[number];

export { defineKind, exportRegistry, type ExportRegistry, type ReportFormat, reportFile, reportFormats, type ReportKind, type ReportRun } from './kind';
