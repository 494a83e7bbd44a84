/**
 * The master's HTML pages (pure functions of the user API's shapes; the master's routes serve them):
 * `renderAuditListPage` for `GET /`, `renderAuditPage` for `GET /audits/:id`.
 */
export { renderAuditListPage, auditRowHtml, isLive } from './audit-list-page.js';
export { renderAuditPage } from './audit-page.js';
export { auditTone, auditCells, AUDIT_COLUMNS, type RowTone, type RowCell } from './audit-row-model.js';
export { renderProjectPage, releaseGroups } from './project-page.js';
export { renderDiffPage, diffSectionsHtml } from './diff-page.js';
