export { EXPORT_KINDS, EXPORT_COLUMNS, parseExportKind, writeCsv, exportCsvToFile, exportCsvToString } from './csv';
export type { ExportKind, ExportFilter } from './csv';
