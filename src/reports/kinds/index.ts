import { attestations } from './attestations';
import { compliance } from './compliance';
import { indicators } from './indicators';
import { exportRegistry } from './kind';

/**
 * Every kind of report Socle produces, in the order the CLI and the admin page list them: the context's default
 * `reports` (`createContext`), whose kinds the job runner dispatches to and the page's export buttons offer. The
 * API's enums and the CLI's commands, which are declared before any context exists, come from it directly. A new
 * kind is one file next to this one and one entry below.
 */
export const reportKinds = exportRegistry([compliance, attestations, indicators]);

export { aliasesOf, canonicalFormat, defineKind, exportRegistry, formatAliases, type FormatEntry, type ExportRegistry, type ReportFormat, reportFile, reportFormats, type ReportContext, type ReportKind, type ReportRun } from './kind';
